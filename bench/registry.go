package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// registry is a loopback registry (Debian's docker-registry) that the
// peers and mybuild pull the Debian base from: BuildKit cannot build
// FROM an OCI layout, and the issue measures a pull from a registry.
type registry struct {
	// host is 127.0.0.1:PORT.
	host string
	// storage is the dir that holds its blobs.
	storage string
	cmd     *exec.Cmd
}

// registryConfig is docker-registry's configuration: storage in root,
// plain HTTP on addr, errors only.
func registryConfig(root, addr string) string {
	return fmt.Sprintf("version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\n"+
		"storage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: %s\n", root, addr)
}

// startRegistry starts an empty registry on a free loopback port, its
// storage and log under dir.
func startRegistry(dir string) (*registry, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	host, err := freePort()
	if err != nil {
		return nil, err
	}
	config := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(config, []byte(registryConfig(filepath.Join(dir, "storage"), host)), 0o644); err != nil {
		return nil, err
	}
	r := &registry{host: host, storage: filepath.Join(dir, "storage")}
	r.cmd, err = startDaemon(filepath.Join(dir, "log"), "docker-registry", "serve", config)
	if err != nil {
		return nil, fmt.Errorf("docker-registry (apt-get install docker-registry): %w", err)
	}
	ready := func() error {
		resp, err := http.Get("http://" + host + "/v2/")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET /v2/: %s", resp.Status)
		}
		return nil
	}
	if err := waitFor(ready); err != nil {
		r.stop()
		return nil, fmt.Errorf("docker-registry did not start (see %s): %w", filepath.Join(dir, "log"), err)
	}
	return r, nil
}

// push copies the image src (a skopeo source: oci:DIR:TAG,
// oci-archive:FILE) to repo:tag in the registry with skopeo, layers as
// they are, and returns its reference.
func (r *registry) push(src, repo, tag string) (string, error) {
	ref := r.host + "/" + repo + ":" + tag
	if err := run("skopeo", "copy", "--quiet", "--dest-tls-verify=false", src, "docker://"+ref); err != nil {
		return "", err
	}
	return ref, nil
}

func (r *registry) stop() { stopDaemon(r.cmd) }

// freePort returns 127.0.0.1:PORT of a port that was free a moment ago.
func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := l.Addr().String()
	return addr, l.Close()
}

// waitFor calls ready until it succeeds, for a minute at most.
func waitFor(ready func() error) error {
	start := time.Now()
	for {
		err := ready()
		if err == nil {
			return nil
		}
		if time.Since(start) > time.Minute {
			return err
		}
		time.Sleep(200 * time.Millisecond)
	}
}
