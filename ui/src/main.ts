import { mount } from 'svelte';
import './app.css';
import App from './App.svelte';

import { inTauri } from './backend';

// The desktop window renders without GPU compositing (src-tauri/src/webkit.rs: 100 MB less
// memory); there a blurred box-shadow costs a software repaint of ~200 ms, which held up every
// event behind it (docs/desktop.md). The desktop look is flat: borders, no shadows.
if (inTauri()) document.documentElement.dataset.shell = 'desktop';

const target = document.getElementById('app');
if (!target) throw new Error('index.html has no #app');

export default mount(App, { target });
