package kslog_test

import (
	"log/slog"
	"os"

	"github.com/slashinit/slashinit/kmsg"
	"github.com/slashinit/slashinit/kmsg/kslog"
)

func ExampleNewHandler() {
	w := kmsg.Fallback(os.Stdout, "init")
	logger := slog.New(kslog.NewHandler(w, nil))
	logger.Info("stage ended", "stage", "/etc/boot", "status", "exit 127", "ran", "1.2s")
	logger.WithGroup("mount").Error("failed", "target", "/sys/fs/cgroup", "err", "no such device")
	// Output:
	// init: stage ended stage=/etc/boot status="exit 127" ran=1.2s
	// init: failed mount.target=/sys/fs/cgroup mount.err="no such device"
}
