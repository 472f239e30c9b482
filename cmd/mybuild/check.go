package main

import (
	"context"
	"io"

	"github.com/mybuild/mybuild/build"
)

// runCheck is mybuild build --check: BuildKit's lint rules over the
// Dockerfile, printed on stdout as docker buildx build --check prints
// them. It builds nothing and opens no cache; warnings exit 1, with no
// error line of their own.
func runCheck(ctx context.Context, opts build.Options, stdout io.Writer) error {
	res, err := build.Check(ctx, opts)
	if err != nil {
		return err
	}
	if err := res.PrintTo(stdout); err != nil {
		return err
	}
	if len(res.Warnings) > 0 {
		return &exitError{code: exitBuild}
	}
	return nil
}
