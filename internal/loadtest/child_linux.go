package loadtest

import "syscall"

// terminate is the signal that asks a child to shut down.
var terminate = syscall.SIGTERM

// childAttr makes the kernel kill a child if the load test dies first, so
// that an interrupted run leaves no server behind.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
