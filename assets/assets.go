// Package assets holds the stylesheet, the one browser script and the icon of the
// chat pages, embedded into the binary; handlers serve FS at /assets/.
//
// It imports nothing from the project.
package assets

import "embed"

// FS holds app.css, chat.js and favicon.svg at its root.
//
//go:embed app.css chat.js favicon.svg
var FS embed.FS
