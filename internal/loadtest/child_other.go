//go:build !linux

package loadtest

import (
	"os"
	"syscall"
)

// terminate is the signal that asks a child to shut down.
var terminate = os.Interrupt

func childAttr() *syscall.SysProcAttr { return nil }
