// Package soak holds the soak test of the chat: about a thousand event
// streams and a few posters on 127.0.0.1 for about a minute, clients
// dropping and resuming at random with Last-Event-ID, then checks that
// every client received exactly its room's history and that goroutines,
// open files and the heap went back to where they were.
//
// It is a test-only package: it runs with `go test ./tests/soak` (skipped with
// -short), for SOAK_DURATION (default 60s). It imports the chat's
// handlers, domain and memory store, as cmd/chat wires them.
package soak
