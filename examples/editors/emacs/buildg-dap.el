;;; buildg-dap.el --- dap-mode setup for buildg-dap, the Dockerfile debugger -*- lexical-binding: t -*-

;; Load this after dap-mode, e.g. (load "/path/to/buildg-dap.el") in your init file.
;; Then, in a Dockerfile: M-x dap-breakpoint-toggle on a step line, M-x dap-debug, pick
;; "buildg-dap: Debug Dockerfile"; when it stops, M-x dap-ui-repl and type `exec cat /hi`.

;;; Code:

(require 'dap-mode)
;; dap-mode sets exception filters through dap-ui ("Failed steps" is on by default).
(require 'dap-ui)

(defgroup buildg-dap nil
  "Debug Dockerfile builds with buildg-dap."
  :group 'dap-mode)

(defcustom buildg-dap-command '("buildg-dap" "dap")
  "How to start the debug adapter: buildg-dap's `dap' command on stdio.
With a virtualenv instead: (\"/path/to/venv/bin/python\" \"-m\" \"buildg_dap\" \"dap\")."
  :type '(repeat string)
  :group 'buildg-dap)

(defcustom buildg-dap-builder nil
  "The buildkitd address for configurations without :builder (unix:///… or tcp://…).
nil: BUILDKIT_HOST, else the builder buildg-dap starts itself."
  :type '(choice (const nil) string)
  :group 'buildg-dap)

(defun buildg-dap--populate (conf)
  "Complete the launch configuration CONF before `dap-debug' starts it."
  (unless (plist-get conf :dockerfile)
    ;; The Dockerfile of the current buffer, its folder the build context.
    (setq conf (plist-put conf :dockerfile (buffer-file-name))))
  (when (and buildg-dap-builder (not (plist-get conf :builder)))
    (setq conf (plist-put conf :builder buildg-dap-builder)))
  (plist-put conf :dap-server-path buildg-dap-command))

(dap-register-debug-provider "buildg-dap" #'buildg-dap--populate)

;; Arrays are vectors: dap-mode encodes a vector as a JSON array.
(dap-register-debug-template
 "buildg-dap: Debug Dockerfile"
 (list :type "buildg-dap" :request "launch" :name "Debug Dockerfile"))

(dap-register-debug-template
 "buildg-dap: Debug with a remote cache"
 (list :type "buildg-dap" :request "launch" :name "Debug with a remote cache"
       :cacheFrom ["registry.example.com/app:buildcache"]))

(dap-register-debug-template
 "buildg-dap: Debug a target stage"
 (list :type "buildg-dap" :request "launch" :name "Debug a target stage"
       :target "build"))

(provide 'buildg-dap)
;;; buildg-dap.el ends here
