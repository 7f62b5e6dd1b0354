// Package assets holds the stylesheet and the one browser script of the
// chat pages, embedded into the binary; handlers serve FS at /assets/.
//
// It imports nothing from the project.
package assets

import "embed"

// FS holds app.css and chat.js at its root.
//
//go:embed app.css chat.js
var FS embed.FS
