package build

import (
	"context"
	"errors"

	"golang.org/x/sync/errgroup"
)

// runGraph builds every node the target needs, each as soon as the nodes
// it needs are done: independent stages run at the same time. It returns
// the first real failure, not the "dependency failed" of the stages that
// waited on it.
func (b *builder) runGraph(ctx context.Context, g *graph) error {
	nodes := g.reachable()
	b.multiStage = len(nodes) > 1
	eg, ctx := errgroup.WithContext(ctx)
	for _, n := range nodes {
		eg.Go(func() error {
			defer close(n.done)
			for _, dep := range n.needs() {
				select {
				case <-dep.done:
				case <-ctx.Done():
					n.err = ctx.Err()
					return n.err
				}
				if dep.err != nil {
					n.err = errDependency
					return n.err
				}
			}
			n.result, n.err = b.runNode(ctx, n)
			return n.err
		})
	}
	err := eg.Wait()
	for _, n := range nodes {
		if n.err != nil && !errors.Is(n.err, errDependency) && !errors.Is(n.err, context.Canceled) {
			return n.err
		}
	}
	return err
}
