package build

import "sort"

// addResult records what a step of the node or stage at order did.
func (b *builder) addResult(n *node, res StepResult) {
	b.addOrdered(n.order(len(b.df.Stages)), res)
}

func (b *builder) addResultFor(st *stage, res StepResult) {
	b.addOrdered(st.order, res)
}

type orderedResult struct {
	order int
	res   StepResult
}

func (b *builder) addOrdered(order int, res StepResult) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.results = append(b.results, orderedResult{order, res})
}

// stepResults lists the results stage by stage, in Dockerfile order, step
// by step: the same order whatever ran first.
func (b *builder) stepResults() []StepResult {
	b.mu.Lock()
	defer b.mu.Unlock()
	sort.SliceStable(b.results, func(i, j int) bool {
		a, c := b.results[i], b.results[j]
		if a.order != c.order {
			return a.order < c.order
		}
		return a.res.Index < c.res.Index
	})
	out := make([]StepResult, len(b.results))
	for i, r := range b.results {
		out[i] = r.res
	}
	return out
}

// order sorts a node: stages by position, then the images --from names.
func (n *node) order(stages int) int {
	if n.index >= 0 {
		return n.index
	}
	return stages
}
