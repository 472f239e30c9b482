package main

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
)

// markdown renders the results: one row per workload, phase and tool
// (and mode), and when peers were measured, the ratio table after it.
func markdown(rs []result) string {
	var b bytes.Buffer
	byTool := slices.ContainsFunc(rs, func(r result) bool { return r.Tool != "" })
	byMode := slices.ContainsFunc(rs, func(r result) bool { return r.Mode != "" })
	if !byTool && !byMode {
		fmt.Fprintln(&b, "| Workload | Phase | Median | Min | Max | Peak RSS | Target |")
		fmt.Fprintln(&b, "|---|---|---|---|---|---|---|")
		for _, r := range rs {
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s |\n",
				r.Workload, r.Phase, secs(r.MedianMS), secs(r.MinMS), secs(r.MaxMS), rss(r), r.Target)
		}
		return b.String()
	}
	head := []string{"Workload", "Phase"}
	if byTool {
		head = append(head, "Tool")
	}
	if byMode {
		head = append(head, "Mode")
	}
	head = append(head, "Median", "Min", "Max", "Peak RSS")
	if byMode {
		head = append(head, "Median / the first mode's")
	} else {
		head = append(head, "Target")
	}
	row(&b, head...)
	row(&b, slices.Repeat([]string{"---"}, len(head))...)
	for _, r := range rs {
		cells := []string{r.Workload, r.Phase}
		if byTool {
			cells = append(cells, toolTitle(r))
		}
		if byMode {
			cells = append(cells, r.Mode)
		}
		cells = append(cells, secs(r.MedianMS), secs(r.MinMS), secs(r.MaxMS), rss(r))
		if byMode {
			cells = append(cells, modeRatio(rs, r))
		} else {
			cells = append(cells, r.Target)
		}
		row(&b, cells...)
	}
	if byTool {
		fmt.Fprintln(&b)
		b.WriteString(ratioTable(rs))
	}
	return b.String()
}

// modeRatio is r's median over that of mybuild in the first mode measured
// (the namespaces mode, or -baseline's binary), on the same workload and
// phase, and then the median of the ratios of the builds of each run,
// which were made next to each other; "" for that mode itself and for
// peers.
func modeRatio(rs []result, r result) string {
	first := rs[slices.IndexFunc(rs, func(o result) bool { return o.Mode != "" })].Mode
	if r.Mode == "" || r.Mode == first {
		return ""
	}
	i := slices.IndexFunc(rs, func(o result) bool {
		return o.Mode == first && o.Workload == r.Workload && o.Phase == r.Phase
	})
	if i < 0 {
		return ""
	}
	return fmt.Sprintf("%.2f× (runs: %.2f×)", r.MedianMS/rs[i].MedianMS, medianRatio(r.WallsMS, rs[i].WallsMS))
}

// ratioTable is the headline of a run with peers, as issue 16 writes it:
// for each workload and phase, each peer's median, mybuild's (in each
// mode), and each mode's ratio to the fastest peer and to BuildKit.
func ratioTable(rs []result) string {
	type key struct{ workload, phase string }
	var keys []key
	var peers, mine []string // column titles
	median := map[key]map[string]float64{}
	tools := map[string]string{} // title: tool name
	for _, r := range rs {
		if r.Tool == "" {
			continue
		}
		k := key{r.Workload, r.Phase}
		if median[k] == nil {
			keys = append(keys, k)
			median[k] = map[string]float64{}
		}
		title := toolTitle(r)
		median[k][title] = r.MedianMS
		tools[title] = r.Tool
		cols := &peers
		if r.Tool == "mybuild" {
			cols = &mine
		}
		if !slices.Contains(*cols, title) {
			*cols = append(*cols, title)
		}
	}
	if len(mine) == 0 {
		return ""
	}
	var b bytes.Buffer
	head := append(append([]string{"Workload", "Phase"}, peers...), mine...)
	cols := len(head)
	for _, c := range mine {
		head = append(head, c+" ÷ fastest peer", c+" ÷ BuildKit")
	}
	row(&b, head...)
	row(&b, slices.Repeat([]string{"---"}, len(head))...)
	for _, k := range keys {
		m := median[k]
		cells := make([]string, 0, len(head))
		cells = append(cells, k.workload, k.phase)
		for _, c := range head[2:cols] {
			cells = append(cells, seconds(m, c))
		}
		for _, c := range mine {
			cells = append(cells, peerRatios(m, c, peers, tools)...)
		}
		row(&b, cells...)
	}
	return b.String()
}

// peerRatios are mine's median over the fastest peer's, and over
// BuildKit's, in m.
func peerRatios(m map[string]float64, mine string, peers []string, tools map[string]string) []string {
	best, fastest := "", "" // the fastest peer's ratio, and its name
	var buildkit string
	for _, p := range peers {
		v, ok := m[p]
		if !ok {
			continue
		}
		if fastest == "" || v < m[fastest] {
			fastest = p
		}
		if tools[p] == "buildkit" {
			buildkit = ratio(m, mine, p)
		}
	}
	if fastest != "" {
		if best = ratio(m, mine, fastest); best != "" {
			best += " (" + toolNames[tools[fastest]] + ")"
		}
	}
	return []string{best, buildkit}
}

// toolNames are the tools as the tables name them.
var toolNames = map[string]string{"mybuild": "mybuild", "buildkit": "BuildKit", "buildah": "Buildah"}

// toolTitle names r's tool with its version, or mybuild with its mode.
func toolTitle(r result) string {
	title := toolNames[r.Tool]
	if title == "" {
		title = r.Tool
	}
	if r.Version != "" {
		title += " " + r.Version
	}
	if r.Mode != "" {
		title += " (" + r.Mode + ")"
	}
	return title
}

// ratio is m[a] ÷ m[b], or "" when either is missing or b is zero.
func ratio(m map[string]float64, a, b string) string {
	x, okA := m[a]
	y, okB := m[b]
	if !okA || !okB || y == 0 {
		return ""
	}
	return fmt.Sprintf("%.2f×", x/y)
}

// seconds is m[col] with three significant digits, or "" when missing.
func seconds(m map[string]float64, col string) string {
	ms, ok := m[col]
	switch {
	case !ok:
		return ""
	// By the rounded value: 999.6 ms is 1.00 s, not 1.000 s.
	case ms >= 9995:
		return fmt.Sprintf("%.1f s", ms/1000)
	case ms >= 999.5:
		return fmt.Sprintf("%.2f s", ms/1000)
	default:
		return fmt.Sprintf("%.3f s", ms/1000)
	}
}

func secs(ms float64) string {
	return fmt.Sprintf("%.2f s", ms/1000)
}

// rss is r's peak RSS, or – when unknown (BuildKit's: the work is done
// by its daemon, not by buildctl).
func rss(r result) string {
	if r.MaxRSSMiB == 0 {
		return "–"
	}
	return fmt.Sprintf("%.0f MiB", r.MaxRSSMiB)
}

// row writes one markdown table row.
func row(b *bytes.Buffer, cells ...string) {
	fmt.Fprintf(b, "| %s |\n", strings.Join(cells, " | "))
}
