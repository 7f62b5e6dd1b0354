//go:build !linux

package main

import (
	"context"
	"errors"
)

const epollSupported = false

func runPollers(context.Context, *bench, int) (func(), error) {
	return nil, errors.New("epoll is Linux only")
}
