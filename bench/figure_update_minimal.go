package main

import (
	"path/filepath"
	"time"

	"github.com/slashinit/slashinit/internal/kernelbuild"
)

// updateMinimalFigure measures the same update as updateFigure for what
// this project recommends for a diskless server: the minimal kernel of
// kernel.config with the image built in, one file and no initrd. Two kernels
// are built as make kernel builds them (package kernelbuild): second, whose
// image is the one every next boot runs, and first, whose image carries
// second as /kernel.
func (s *session) updateMinimalFigure() error {
	if err := s.qemuSetup(); err != nil {
		return err
	}
	ours := candidates()[0]
	secondImage, err := s.image(imageSpec{name: "update-minimal-second", cand: ours})
	if err != nil {
		return err
	}
	second := filepath.Join(s.work, "update-minimal-second.bzImage")
	if err := s.buildMinimalKernel(secondImage, second); err != nil {
		return err
	}
	firstImage, err := s.image(imageSpec{name: "update-minimal-first", cand: ours,
		host:    map[string]string{"/kernel": second},
		content: map[string]string{"/kernel.cmdline": kexecCmdline}})
	if err != nil {
		return err
	}
	first := filepath.Join(s.work, "update-minimal-first.bzImage")
	if err := s.buildMinimalKernel(firstImage, first); err != nil {
		return err
	}
	for key, k := range map[string]string{"first": first, "second": second} {
		s.res.add(sample{Figure: "update-minimal", Metric: "kernel_kib", Candidate: key, Value: fileKiB(k), Unit: "KiB"})
	}
	return s.updateRounds("update-minimal", bootFiles{kernel: first}, bootFiles{kernel: second})
}

// buildMinimalKernel builds kernel.config's kernel with image built in, into
// out. The kbuild directory is make kernel's (build/kernel), so after the
// first build only the embedded image is rebuilt.
func (s *session) buildMinimalKernel(image, out string) error {
	start := time.Now()
	if err := kernelbuild.Build(image, out, kernelbuild.Settings{}); err != nil {
		return err
	}
	s.logf("built %s in %s", out, time.Since(start).Round(time.Second))
	return nil
}
