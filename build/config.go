package build

import (
	"maps"
	"slices"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/shell"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
)

// ConfigChange is one step's effect on the image config. Steps store it in
// their cache record, so a cached step changes the config exactly as the
// step did. Nil fields leave the config as it is.
type ConfigChange struct {
	Env          []string                      `json:"env,omitempty"` // K=V, set in order
	Cmd          *[]string                     `json:"cmd,omitempty"`
	Entrypoint   *[]string                     `json:"entrypoint,omitempty"`
	ClearCmd     bool                          `json:"clear_cmd,omitempty"` // ENTRYPOINT resets an inherited CMD
	WorkingDir   *string                       `json:"working_dir,omitempty"`
	User         *string                       `json:"user,omitempty"`
	Labels       [][2]string                   `json:"labels,omitempty"`
	ExposedPorts []string                      `json:"exposed_ports,omitempty"`
	Volumes      []string                      `json:"volumes,omitempty"`
	StopSignal   *string                       `json:"stop_signal,omitempty"`
	Shell        *[]string                     `json:"shell,omitempty"`
	Healthcheck  *dockerspec.HealthcheckConfig `json:"healthcheck,omitempty"`
	Author       *string                       `json:"author,omitempty"`
	OnBuild      []string                      `json:"onbuild,omitempty"` // appended
}

// apply changes cfg the way BuildKit's dispatchers do.
func (c *ConfigChange) apply(img *dockerspec.DockerOCIImage) {
	if c == nil {
		return
	}
	cfg := &img.Config
	for _, kv := range c.Env {
		k, v, _ := strings.Cut(kv, "=")
		cfg.Env = setEnv(cfg.Env, k, v)
	}
	if c.Cmd != nil {
		cfg.Cmd = slices.Clone(*c.Cmd)
		cfg.ArgsEscaped = true //nolint:staticcheck // BuildKit sets it for Docker compatibility.
	}
	if c.Entrypoint != nil {
		cfg.Entrypoint = slices.Clone(*c.Entrypoint)
		if c.ClearCmd {
			cfg.Cmd = nil
		}
	}
	if c.WorkingDir != nil {
		cfg.WorkingDir = *c.WorkingDir
	}
	if c.User != nil {
		cfg.User = *c.User
	}
	for _, kv := range c.Labels {
		if cfg.Labels == nil {
			cfg.Labels = map[string]string{}
		}
		cfg.Labels[kv[0]] = kv[1]
	}
	for _, p := range c.ExposedPorts {
		if cfg.ExposedPorts == nil {
			cfg.ExposedPorts = map[string]struct{}{}
		}
		cfg.ExposedPorts[p] = struct{}{}
	}
	for _, v := range c.Volumes {
		if cfg.Volumes == nil {
			cfg.Volumes = map[string]struct{}{}
		}
		cfg.Volumes[v] = struct{}{}
	}
	if c.StopSignal != nil {
		cfg.StopSignal = *c.StopSignal
	}
	if c.Shell != nil {
		cfg.Shell = slices.Clone(*c.Shell)
	}
	if c.Healthcheck != nil {
		hc := *c.Healthcheck
		cfg.Healthcheck = &hc
	}
	if c.Author != nil {
		img.Author = *c.Author
	}
	cfg.OnBuild = append(cfg.OnBuild, c.OnBuild...)
}

// setEnv sets k in env, replacing an earlier value in place, as BuildKit's
// addEnv does.
func setEnv(env []string, k, v string) []string {
	for i, kv := range env {
		key, _, _ := strings.Cut(kv, "=")
		if shell.EqualEnvKeys(key, k) {
			env = slices.Clone(env)
			env[i] = k + "=" + v
			return env
		}
	}
	return append(slices.Clone(env), k+"="+v)
}

// mergeAnnotations is a with b's on top; nil when both are empty.
func mergeAnnotations(a, b map[string]string) map[string]string {
	if len(b) == 0 {
		return a
	}
	m := maps.Clone(a)
	if m == nil {
		m = map[string]string{}
	}
	maps.Copy(m, b)
	return m
}
