// Types that `src/bindings/console.ts` refers to but does not (yet) declare.
//
// `HoldSide` is used by `Call.held_by`, but crates/console-core/tests/ts_bindings.rs does not list
// `HoldSide::decl()`, so the generated file names a type it never exports. This global fallback
// keeps the generated file compiling until the generator exports it; once it does, the module's
// own `export type HoldSide` shadows this one and this file can go.
type HoldSide = 'local' | 'remote';
