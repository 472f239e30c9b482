package build

import (
	"fmt"
	"slices"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/mybuild/mybuild/image"
	"github.com/mybuild/mybuild/parser"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// proxyArgs may be passed with --build-arg without an ARG: RUN steps see
// them, the history and the cache keys do not, as in BuildKit.
var proxyArgs = []string{
	"HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy",
	"FTP_PROXY", "ftp_proxy", "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy",
}

// platformArgs are the automatic platform args, as BuildKit's defaultArgs
// sets them: in the global scope, and in a stage once it declares them.
func platformArgs(build, target ocispec.Platform, targetStage string) [][2]string {
	if targetStage == "" {
		targetStage = "default"
	}
	return [][2]string{
		{"BUILDPLATFORM", image.FormatPlatform(build)},
		{"BUILDOS", build.OS},
		{"BUILDOSVERSION", build.OSVersion},
		{"BUILDARCH", build.Architecture},
		{"BUILDVARIANT", build.Variant},
		{"TARGETPLATFORM", image.FormatPlatform(target)},
		{"TARGETOS", target.OS},
		{"TARGETOSVERSION", target.OSVersion},
		{"TARGETARCH", target.Architecture},
		{"TARGETVARIANT", target.Variant},
		{"TARGETSTAGE", targetStage},
	}
}

// args holds the build args and what the Dockerfile did with them.
type args struct {
	values map[string]string // --build-arg
	global []string          // the global scope, K=V, in order
	used   map[string]bool   // build args some ARG consumed
}

// newArgs makes the global scope: the platform args (the build platform
// is the host's, the target one what the build is for), then the ARGs
// before the first FROM, each taking its --build-arg value or its default,
// expanded with what came before.
func newArgs(df *parser.Dockerfile, values map[string]string, build, platform ocispec.Platform, target string) (*args, error) {
	a := &args{values: values, used: map[string]bool{}}
	for _, kv := range platformArgs(build, platform, target) {
		v := kv[1]
		if ov, ok := values[kv[0]]; ok {
			v = ov
		}
		a.global = setEnv(a.global, kv[0], v)
	}
	for i := range df.MetaArgs {
		cmd := &df.MetaArgs[i]
		for _, kv := range cmd.Args {
			key, err := df.ExpandWord(kv.Key, a.global)
			if err != nil {
				return nil, df.ErrorAt(cmd, err)
			}
			if v, ok := values[key]; ok {
				a.used[key] = true
				a.global = setEnv(a.global, key, v)
				continue
			}
			if kv.Value != nil {
				v, err := df.ExpandWord(*kv.Value, a.global)
				if err != nil {
					return nil, df.ErrorAt(cmd, err)
				}
				a.global = setEnv(a.global, key, v)
			}
		}
	}
	return a, nil
}

// lookupGlobal finds a global arg.
func (a *args) lookupGlobal(key string) (string, bool) {
	return lookupEnv(a.global, key)
}

// resolve gives an ARG of a stage its value, as BuildKit's dispatchArg
// does: the --build-arg value; else the default, expanded with the stage's
// environment; else, for a global arg declared again, the global value.
// ok is false for an ARG left without a value.
func (a *args) resolve(df *parser.Dockerfile, kv instructions.KeyValuePairOptional, env []string) (value string, ok bool, err error) {
	if v, has := a.values[kv.Key]; has {
		a.used[kv.Key] = true
		return v, true, nil
	}
	if kv.Value != nil {
		v, err := df.ExpandWord(*kv.Value, env)
		return v, err == nil, err
	}
	if v, has := a.lookupGlobal(kv.Key); has {
		return v, true, nil
	}
	return "", false, nil
}

// proxyEnv is the proxy settings given as build args, for RUN.
func (a *args) proxyEnv() []string {
	var env []string
	for _, k := range proxyArgs {
		if v, ok := a.values[k]; ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}

// unused lists the build args that no ARG consumed, for a warning.
func (a *args) unused() []string {
	var out []string
	for k := range a.values {
		if a.used[k] || slices.Contains(proxyArgs, k) || isPlatformArg(k) {
			continue
		}
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func isPlatformArg(k string) bool {
	for _, kv := range platformArgs(ocispec.Platform{}, ocispec.Platform{}, "") {
		if kv[0] == k {
			return true
		}
	}
	return false
}

// runCommandString is BuildKit's history text of a RUN: the build args in
// scope, as "|N K=V ...", then the command.
func runCommandString(cmd []string, buildArgs []instructions.KeyValuePairOptional, env []string) string {
	var vars []string
	index := map[string]int{}
	for _, kv := range buildArgs {
		v, ok := lookupEnv(env, kv.Key)
		if !ok {
			v = kv.ValueString()
		}
		if i, seen := index[kv.Key]; seen {
			vars[i] = kv.Key + "=" + v
			continue
		}
		index[kv.Key] = len(vars)
		vars = append(vars, kv.Key+"="+v)
	}
	if len(vars) > 0 {
		vars = append([]string{fmt.Sprintf("|%d", len(vars))}, vars...)
	}
	return strings.Join(append(vars, cmd...), " ")
}

// lookupEnv finds key in a K=V list; the last one wins.
func lookupEnv(env []string, key string) (string, bool) {
	for i := len(env) - 1; i >= 0; i-- {
		if k, v, _ := strings.Cut(env[i], "="); k == key {
			return v, true
		}
	}
	return "", false
}
