package registrytest

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	"golang.org/x/crypto/bcrypt"
)

// Bin is Debian's distribution registry, from the docker-registry package.
const Bin = "/usr/bin/docker-registry"

// Registry is a running registry on the loopback interface, reached over
// plain HTTP.
type Registry struct {
	// Host is HOST:PORT, as it starts an image reference.
	Host string
	// User and Password are the only credentials it accepts, when it was
	// started WithAuth.
	User, Password string
	// Dir is the storage root of a docker-registry.
	Dir string

	stop func()
	once sync.Once
}

// Stop stops the registry now, to test what happens when it is gone. It
// also stops at the end of the test.
func (r *Registry) Stop() {
	r.once.Do(r.stop)
}

// Ref is the reference of repo[:tag] in the registry.
func (r *Registry) Ref(repo string) string { return r.Host + "/" + repo }

// Option configures Start.
type Option func(*options)

type options struct {
	user, password string
}

// WithAuth makes the registry require HTTP basic authentication with
// these credentials (an htpasswd file, bcrypt).
func WithAuth(user, password string) Option {
	return func(o *options) { o.user, o.password = user, password }
}

// Start runs docker-registry on 127.0.0.1 with a free port and its own
// storage, and stops it when the test ends. Its log is shown if the test
// fails.
func Start(t testing.TB, opts ...Option) *Registry {
	t.Helper()
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	if _, err := os.Stat(Bin); err != nil {
		t.Fatalf("%s not found: apt-get install docker-registry", Bin)
	}
	dir := t.TempDir()
	var auth string
	if o.user != "" {
		hash, err := bcrypt.GenerateFromPassword([]byte(o.password), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		htpasswd := filepath.Join(dir, "htpasswd")
		if err := os.WriteFile(htpasswd, []byte(o.user+":"+string(hash)+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		auth = fmt.Sprintf("auth:\n  htpasswd:\n    realm: registrytest\n    path: %s\n", htpasswd)
	}
	// The port is free when it is picked, but may be taken before the
	// registry binds it: try again.
	for attempt := 1; ; attempt++ {
		r := &Registry{Host: freeAddr(t), User: o.user, Password: o.password, Dir: filepath.Join(dir, "storage")}
		cfgPath := filepath.Join(dir, "config.yml")
		if err := os.WriteFile(cfgPath, []byte(config(r.Host, r.Dir)+auth), 0o600); err != nil {
			t.Fatal(err)
		}
		logs, err := r.start(t, cfgPath)
		if err == nil {
			return r
		}
		if attempt < 5 && strings.Contains(logs, "address already in use") {
			continue
		}
		t.Fatalf("docker-registry on %s: %v\n%s", r.Host, err, logs)
	}
}

// start runs the registry and waits until it answers.
func (r *Registry) start(t testing.TB, cfgPath string) (string, error) {
	logs := &lockedBuffer{}
	cmd := exec.Command(Bin, "serve", cfgPath)
	cmd.Stdout, cmd.Stderr = logs, logs
	// distribution reads REGISTRY_* variables as configuration: a test's
	// REGISTRY_AUTH_FILE (Podman's) would become "auth: file:".
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "REGISTRY_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	if cmd.Env == nil {
		cmd.Env = []string{}
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	exited, err := startOnOwnThread(cmd)
	if err != nil {
		return "", err
	}
	r.stop = func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	}
	if err := waitReady(r.Host, exited); err != nil {
		r.stop()
		return logs.String(), err
	}
	t.Cleanup(func() {
		r.Stop()
		if t.Failed() {
			t.Logf("docker-registry log:\n%s", logs.String())
		}
	})
	return "", nil
}

// startOnOwnThread starts cmd from a thread locked until cmd exits, and
// closes exited then. Pdeathsig is the starting thread's, not the
// process's: a test that builds in-process may end threads (mybuild's
// namespace probes unshare one and let it exit), which would kill a
// registry started from one of them.
func startOnOwnThread(cmd *exec.Cmd) (exited chan struct{}, err error) {
	exited = make(chan struct{})
	started := make(chan error)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		_ = cmd.Wait()
		close(exited)
	}()
	return exited, <-started
}

func config(addr, storage string) string {
	return fmt.Sprintf(`version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: %s
  secret: registrytest
health:
  storagedriver:
    enabled: false
`, storage, addr)
}

// freeAddr finds a free port on 127.0.0.1, below Linux's range of
// ephemeral ports (32768 and up), so that no outgoing connection takes it
// before the registry binds it.
func freeAddr(t testing.TB) string {
	t.Helper()
	for range 100 {
		addr := fmt.Sprintf("127.0.0.1:%d", 20000+rand.IntN(12000))
		l, err := net.Listen("tcp", addr)
		if err != nil {
			continue
		}
		l.Close()
		return addr
	}
	t.Fatal("no free port on 127.0.0.1")
	return ""
}

// waitReady waits until the registry answers /v2/.
func waitReady(host string, exited <-chan struct{}) error {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+host+"/v2/", nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusUnauthorized {
				return nil
			}
		}
		select {
		case <-exited:
			return fmt.Errorf("exited before it was ready")
		case <-ctx.Done():
			return fmt.Errorf("not ready after 15s: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// StartInMemory runs ggcr's in-memory registry, for tests that need any
// registry: it starts in no time and needs nothing installed.
func StartInMemory(t testing.TB) *Registry {
	t.Helper()
	srv := httptest.NewServer(ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0))))
	r := &Registry{Host: strings.TrimPrefix(srv.URL, "http://"), stop: srv.Close}
	t.Cleanup(r.Stop)
	return r
}

// DockerConfig writes a Docker config.json holding r's credentials (or
// user and password, if given) into a new directory, and returns the
// directory, for $DOCKER_CONFIG.
func (r *Registry) DockerConfig(t testing.TB, userPassword ...string) string {
	t.Helper()
	user, password := r.User, r.Password
	if len(userPassword) == 2 {
		user, password = userPassword[0], userPassword[1]
	}
	cfg := map[string]any{"auths": map[string]any{
		r.Host: map[string]string{"auth": base64.StdEncoding.EncodeToString([]byte(user + ":" + password))},
	}}
	data, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "config.json"), data, 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
