package rootfs

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
)

// socketProxy is a unix socket that forwards every connection to another
// one: the ssh agent's socket, put in a tree where it cannot be mounted.
type socketProxy struct {
	l     *net.UnixListener
	to    string
	wg    sync.WaitGroup
	mu    sync.Mutex
	conns map[net.Conn]bool
}

// proxySocket listens at path, 0600, and forwards to the socket to.
func proxySocket(path, to string) (*socketProxy, error) {
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(path, 0o600); err != nil {
		l.Close()
		return nil, err
	}
	p := &socketProxy{l: l, to: to, conns: map[net.Conn]bool{}}
	p.wg.Add(1)
	go p.serve()
	return p, nil
}

func (p *socketProxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.l.Accept()
		if err != nil {
			return
		}
		p.wg.Add(1)
		go p.forward(c)
	}
}

// forward copies both ways between c and a new connection to the target,
// until either side closes.
func (p *socketProxy) forward(c net.Conn) {
	defer p.wg.Done()
	t, err := net.Dial("unix", p.to)
	if err != nil {
		c.Close()
		return
	}
	if !p.track(c, t) {
		return
	}
	done := make(chan struct{}, 2)
	go func() { io.Copy(t, c); done <- struct{}{} }()
	go func() { io.Copy(c, t); done <- struct{}{} }()
	<-done
	c.Close()
	t.Close()
	<-done
	p.untrack(c, t)
}

// track records open connections, for Close; false when closed already.
func (p *socketProxy) track(cs ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.conns == nil {
		for _, c := range cs {
			c.Close()
		}
		return false
	}
	for _, c := range cs {
		p.conns[c] = true
	}
	return true
}

func (p *socketProxy) untrack(cs ...net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range cs {
		delete(p.conns, c)
	}
}

// Close stops listening, removes the socket, ends every connection and
// waits for the forwarding to stop.
func (p *socketProxy) Close() error {
	err := p.l.Close()
	p.mu.Lock()
	for c := range p.conns {
		c.Close()
	}
	p.conns = nil
	p.mu.Unlock()
	p.wg.Wait()
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return err
}
