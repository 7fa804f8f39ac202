/*
 * The floor of the desktop footprint: WebKitGTK itself, with nothing of Switchboard in it.
 *
 * One GTK window with one WebKitWebView, given exactly the memory settings the desktop app
 * gives its webview (src-tauri/src/webkit.rs: cache model DocumentViewer, no page cache,
 * hardware acceleration never) and, from footprint.sh, the environment its re-exec sets
 * (src-tauri/src/webkit_env.rs: GDK_GL=disable, JSC_useJIT=0, and an EGL vendor directory
 * that is empty for this process and linked to the system's vendors for the web processes).
 * It shows a one-line page, or the URI given as the first argument.
 *
 * Built and run only by `FOOTPRINT_SUBJECT=bare src-tauri/scripts/footprint.sh`; not part of
 * the app or of CI. Needs libwebkit2gtk-4.1-dev and libegl-dev.
 */
#include <EGL/egl.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <webkit2/webkit2.h>

/* Links every vendor file of the system into `dir`, numbered so the search order is kept. */
static void link_egl_vendors(const char *dir) {
    const char *sources[] = {"/etc/glvnd/egl_vendor.d/*.json",
                             "/usr/share/glvnd/egl_vendor.d/*.json"};
    for (int i = 0; i < 2; i++) {
        glob_t found;
        if (glob(sources[i], 0, NULL, &found) != 0) continue;
        for (size_t j = 0; j < found.gl_pathc; j++) {
            const char *path = found.gl_pathv[j];
            const char *slash = strrchr(path, '/');
            char link[4096];
            snprintf(link, sizeof link, "%s/%d-%s", dir, i, slash ? slash + 1 : path);
            if (symlink(path, link) != 0) perror(link);
        }
        globfree(&found);
    }
}

int main(int argc, char **argv) {
    const char *egl_dir = getenv("BARE_WEBKIT_EGL_DIR");
    if (egl_dir != NULL) {
        /* libglvnd reads its vendor list once per process, at the first EGL call: make that
         * call while the directory is still empty, then fill it for the child processes. */
        eglQueryString(EGL_NO_DISPLAY, EGL_EXTENSIONS);
        link_egl_vendors(egl_dir);
    }
    gtk_init(&argc, &argv);

    WebKitWebContext *context = webkit_web_context_get_default();
    webkit_web_context_set_cache_model(context, WEBKIT_CACHE_MODEL_DOCUMENT_VIEWER);
    WebKitWebView *view = WEBKIT_WEB_VIEW(webkit_web_view_new_with_context(context));
    WebKitSettings *settings = webkit_web_view_get_settings(view);
    webkit_settings_set_enable_page_cache(settings, FALSE);
    webkit_settings_set_hardware_acceleration_policy(settings,
                                                     WEBKIT_HARDWARE_ACCELERATION_POLICY_NEVER);

    GtkWidget *window = gtk_window_new(GTK_WINDOW_TOPLEVEL);
    gtk_window_set_title(GTK_WINDOW(window), "bare-webkit");
    /* The desktop app's window size (lib.rs). */
    gtk_window_set_default_size(GTK_WINDOW(window), 1200, 760);
    gtk_container_add(GTK_CONTAINER(window), GTK_WIDGET(view));
    g_signal_connect(window, "destroy", G_CALLBACK(gtk_main_quit), NULL);
    if (argc > 1)
        webkit_web_view_load_uri(view, argv[1]);
    else
        webkit_web_view_load_html(view, "<!doctype html><p>hello</p>", "about:blank");
    gtk_widget_show_all(window);
    gtk_main();
    return 0;
}
