package main

import (
	"os"
	"os/exec"
	"syscall"
	"time"
)

// startDaemon starts a long-running helper of the bench (the registry,
// buildkitd), its output appended to logFile. It dies with the bench
// (Pdeathsig), and stopDaemon stops it when the bench ends.
func startDaemon(logFile, name string, args ...string) (*exec.Cmd, error) {
	log, err := os.OpenFile(logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		log.Close()
		return nil, err
	}
	// The child holds its own copy of the file.
	if err := log.Close(); err != nil {
		stopDaemon(cmd)
		return nil, err
	}
	return cmd, nil
}

// stopDaemon stops a daemon with SIGTERM, and kills it after 30 seconds.
func stopDaemon(cmd *exec.Cmd) {
	if cmd == nil || cmd.Process == nil {
		return
	}
	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		<-done
	}
}
