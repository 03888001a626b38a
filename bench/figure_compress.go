package main

import "github.com/slashinit/slashinit/initramfs"

// compressFigure boots our init's image under each compression the kernel
// unpacks: the image's size, the unpacking, the boot to /etc/boot.
func (s *session) compressFigure() error {
	comps := []initramfs.Compression{initramfs.Gzip, initramfs.Zstd, initramfs.Xz, initramfs.Lz4}
	images := map[string]string{}
	var keys []string
	for _, comp := range comps {
		img, err := s.image(imageSpec{name: "compress-" + string(comp), cand: candidates()[0], compress: comp})
		if err != nil {
			return err
		}
		images[string(comp)] = img
		keys = append(keys, string(comp))
		s.res.add(sample{Figure: "compress", Metric: "image_kib", Candidate: string(comp), Value: fileKiB(img), Unit: "KiB"})
	}
	s.rounds("compress", keys, func(comp string, round int) error {
		return s.q.compressRun(comp, images[comp], round)
	})
	return nil
}

// compressRun boots our init's image compressed one way: the kernel's
// unpacking is part of the boot time to /etc/boot.
func (q *qemuBench) compressRun(compress, image string, round int) error {
	rep, err := q.bootReport("compress/"+compress, image, "")
	if err != nil {
		return err
	}
	add := q.res.adder("compress", compress, round)
	add("boot_s", rep.marker.Seconds(), "s")
	if rep.unpackStart > 0 && rep.unpackEnd > rep.unpackStart {
		add("unpack_ms", ms(rep.unpackEnd-rep.unpackStart), "ms")
	}
	add("handover_ms", ms(rep.marker-rep.runInit), "ms")
	return nil
}
