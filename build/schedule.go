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
	for _, n := range nodes {
		if n.owner == nil {
			n.owner = b
		}
	}
	return runNodes(ctx, nodes, b.driver.Features().Exclusive, false)
}

// runNodes runs nodes, each by its owner, as soon as the nodes it needs
// are done. A multi-platform build runs the nodes of every platform
// together.
//
// With a driver that has one root (exclusive), nodes run one at a time,
// each whole: interleaving their steps would make the root swap between
// them at every step.
//
// A failure stops the other nodes, unless keepGoing: the nodes that do
// not need the one that failed then run to their end (the emulator
// check's cache-only pass wants to know each node's fate).
func runNodes(ctx context.Context, nodes []*node, exclusive, keepGoing bool) error {
	eg := &errgroup.Group{}
	if !keepGoing {
		eg, ctx = errgroup.WithContext(ctx)
	}
	one := make(chan struct{}, 1)
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
			if exclusive {
				// Every node this one needs is done: holding the turn
				// cannot wait on a node that waits for it.
				select {
				case one <- struct{}{}:
				case <-ctx.Done():
					n.err = ctx.Err()
					return n.err
				}
				defer func() { <-one }()
			}
			n.result, n.err = n.owner.runNode(ctx, n)
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
