package main

import (
	"strings"
	"testing"
)

// peerResults are one workload's phases measured with mybuild and both
// peers, in the order phases returns them.
func peerResults() []result {
	rs := []result{
		{Workload: "monorepo", Tool: "mybuild", Phase: "cold", MedianMS: 7600, MinMS: 7000, MaxMS: 8000, MaxRSSMiB: 80, Target: "≤ 5 s"},
		{Workload: "monorepo", Tool: "mybuild", Phase: "warm", MedianMS: 520, MinMS: 500, MaxMS: 600, MaxRSSMiB: 40, Target: "≤ 0.5 s"},
		{Workload: "monorepo", Tool: "buildkit", Version: "v0.34.2", Phase: "cold", MedianMS: 15400, MinMS: 15000, MaxMS: 16000},
		{Workload: "monorepo", Tool: "buildkit", Version: "v0.34.2", Phase: "warm", MedianMS: 2330, MinMS: 2000, MaxMS: 2500},
		{Workload: "monorepo", Tool: "buildah", Version: "1.28.2", Phase: "cold", MedianMS: 20600, MinMS: 20000, MaxMS: 21000, MaxRSSMiB: 60},
		// Buildah faster than BuildKit here, so that the fastest peer
		// and BuildKit differ.
		{Workload: "monorepo", Tool: "buildah", Version: "1.28.2", Phase: "warm", MedianMS: 1040, MinMS: 1000, MaxMS: 1100, MaxRSSMiB: 60},
	}
	return rs
}

func TestRatioTable(t *testing.T) {
	want := `| Workload | Phase | BuildKit v0.34.2 | Buildah 1.28.2 | mybuild | mybuild ÷ fastest peer | mybuild ÷ BuildKit |
| --- | --- | --- | --- | --- | --- | --- |
| monorepo | cold | 15.4 s | 20.6 s | 7.60 s | 0.49× (BuildKit) | 0.49× |
| monorepo | warm | 2.33 s | 1.04 s | 0.520 s | 0.50× (Buildah) | 0.22× |
`
	if got := ratioTable(peerResults()); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

// Without BuildKit, its ratio is left empty rather than made up; a
// missing median is an empty cell.
func TestRatioTableWithoutBuildKit(t *testing.T) {
	rs := []result{
		{Workload: "steps", Tool: "mybuild", Phase: "cold", MedianMS: 900},
		{Workload: "steps", Tool: "mybuild", Phase: "warm", MedianMS: 37},
		{Workload: "steps", Tool: "buildah", Version: "1.28.2", Phase: "cold", MedianMS: 14500},
	}
	want := `| Workload | Phase | Buildah 1.28.2 | mybuild | mybuild ÷ fastest peer | mybuild ÷ BuildKit |
| --- | --- | --- | --- | --- | --- |
| steps | cold | 14.5 s | 0.900 s | 0.06× (Buildah) |  |
| steps | warm |  | 0.037 s |  |  |
`
	if got := ratioTable(rs); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

// Three significant digits, counted after rounding.
func TestSeconds(t *testing.T) {
	for ms, want := range map[float64]string{
		37: "0.037 s", 599.4: "0.599 s", 999.6: "1.00 s", 1000: "1.00 s", 9994: "9.99 s", 9996: "10.0 s", 25600: "25.6 s",
	} {
		if got := seconds(map[string]float64{"x": ms}, "x"); got != want {
			t.Errorf("%v ms: %q, want %q", ms, got, want)
		}
	}
}

// With several modes (or -baseline), each has its column and its ratios.
func TestRatioTableModes(t *testing.T) {
	rs := []result{
		{Workload: "steps", Tool: "mybuild", Mode: "namespaces", Phase: "cold", MedianMS: 1000},
		{Workload: "steps", Tool: "mybuild", Mode: "rootless", Phase: "cold", MedianMS: 1500},
		{Workload: "steps", Tool: "buildkit", Version: "v0.34.2", Phase: "cold", MedianMS: 4000},
	}
	want := `| Workload | Phase | BuildKit v0.34.2 | mybuild (namespaces) | mybuild (rootless) | mybuild (namespaces) ÷ fastest peer | mybuild (namespaces) ÷ BuildKit | mybuild (rootless) ÷ fastest peer | mybuild (rootless) ÷ BuildKit |
| --- | --- | --- | --- | --- | --- | --- | --- | --- |
| steps | cold | 4.00 s | 1.00 s | 1.50 s | 0.25× (BuildKit) | 0.25× | 0.38× (BuildKit) | 0.38× |
`
	if got := ratioTable(rs); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

// A run without peers prints the table it always printed, and no ratio
// table.
func TestMarkdownWithoutPeers(t *testing.T) {
	rs := []result{{Workload: "bigfile", Phase: "cold", MedianMS: 3740, MinMS: 3250, MaxMS: 3820, MaxRSSMiB: 34, Target: "peak RSS ≤ 200 MB"}}
	want := `| Workload | Phase | Median | Min | Max | Peak RSS | Target |
|---|---|---|---|---|---|---|
| bigfile | cold | 3.74 s | 3.25 s | 3.82 s | 34 MiB | peak RSS ≤ 200 MB |
`
	if got := markdown(rs); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

// With peers: a Tool column, BuildKit's peak RSS unknown, mybuild's
// targets, then the ratio table.
func TestMarkdownWithPeers(t *testing.T) {
	got := markdown(peerResults())
	for _, line := range []string{
		"| Workload | Phase | Tool | Median | Min | Max | Peak RSS | Target |\n",
		"| monorepo | cold | mybuild | 7.60 s | 7.00 s | 8.00 s | 80 MiB | ≤ 5 s |\n",
		"| monorepo | cold | BuildKit v0.34.2 | 15.40 s | 15.00 s | 16.00 s | – |  |\n",
		"| monorepo | warm | Buildah 1.28.2 | 1.04 s | 1.00 s | 1.10 s | 60 MiB |  |\n",
		"\n" + ratioTable(peerResults()),
	} {
		if !strings.Contains(got, line) {
			t.Errorf("no %q in\n%s", line, got)
		}
	}
}
