package kexec

import "golang.org/x/sys/unix"

// explanations is Explain's table, first match wins: rows for one system
// call before the generic ones. The errnos are the ones kexec_file_load and
// reboot(LINUX_REBOOT_CMD_KEXEC) return, read from kernel/kexec_file.c,
// kernel/kexec_core.c (kernel_kexec), fs/kernel_read_file.c and
// arch/x86/kernel/kexec-bzimage64.c.
func explanations() []explanation {
	return append(ownExplanations(), []explanation{
		{rebootCmdKexecName, unix.EINVAL, "no kernel is loaded (kernel_kexec finds no image): Load one first"},
		{rebootCmdKexecName, unix.EBUSY, "another kexec load or reboot holds the kexec lock: retry"},
		{"", unix.EPERM, "kexec is not allowed: the caller lacks CAP_SYS_BOOT, kexec was disabled " +
			"(sysctl kernel.kexec_load_disabled=1, which stays set until the next boot), or the kernel is " +
			"locked down (lockdown=, Secure Boot) and the image is not signed with a key it trusts; " +
			"do a cold reboot instead"},
		// The signature of the kernel to load, on a kernel built to check
		// it (kernel-signed.config): the errnos of
		// crypto/asymmetric_keys/verify_pefile.c, each seen in
		// e2e/kernel_signed_test.go.
		{"", unix.ENODATA, "the kernel carries no signature, and this kernel loads only signed ones " +
			"(CONFIG_KEXEC_SIG_FORCE): sign it with the key whose certificate this kernel was built with " +
			"(sbsign --key KEY --cert CERT; make kernel SIGNING_KEY=KEY SIGNING_CERT=CERT builds and signs it), " +
			"or do a cold reboot"},
		{"", unix.ENOKEY, "the kernel is signed, but not with a key this kernel trusts (only the certificate " +
			"built into it, CONFIG_SYSTEM_TRUSTED_KEYS): sign it with that key; to change keys, first publish " +
			"a kernel that trusts the new certificate, signed with the old key"},
		{"", unix.EKEYREJECTED, "the kernel's signature does not match its content (the file was changed after " +
			"signing) or is not an Authenticode signature: publish the file exactly as sbsign wrote it, or sign it again"},
		{"", unix.EBADMSG, "the kernel's signature is malformed (a digest of the wrong size): sign it again with sbsign"},
		{"", unix.ELIBBAD, "the kernel is not a PE image, or its signature table is damaged, so no signature can be " +
			"checked: a bzImage is a PE image only when built with the EFI stub; build it with kernel-signed.config " +
			"(make kernel SIGNING_KEY=KEY SIGNING_CERT=CERT) and sign it"},
		{"", unix.ENOPKG, "this kernel lacks the crypto algorithm of the image's signature: " +
			"sign with SHA-256 and RSA, or build the kernel with that algorithm"},
		{"", unix.ENOEXEC, "not a kernel image this kernel can load: on x86_64 kexec_file_load takes " +
			"a 64-bit relocatable bzImage of boot protocol 2.12 or later, on arm64 an Image " +
			"(a bzImage without 5-level paging support is also refused on a machine using it)"},
		{"", unix.ENOSYS, "this kernel has no kexec_file_load (built without CONFIG_KEXEC_FILE, " +
			"or an architecture without it): rebuild it with CONFIG_KEXEC_FILE=y, or do a cold reboot"},
		{"", unix.ENOMEM, "not enough memory to hold the new kernel and initrd next to the running system " +
			"(both are copied into RAM until the kexec): stop services, empty tmpfs files, or use a smaller initrd"},
		{"", unix.EADDRNOTAVAIL, "no free physical memory range is large enough for the new kernel, " +
			"its initrd or the purgatory: use a smaller initrd, or do a cold reboot"},
		{"", unix.EINVAL, "invalid argument: the command line is too long for the new kernel " +
			"(cmdline_size in its header, less 31 bytes), the kernel or initrd is empty or not a regular file, " +
			"or the flags are wrong"},
		{"", unix.EBUSY, "another kexec load or reboot is in progress (the kexec lock is held): " +
			"check for a running kexec-tools, then retry"},
		{"", unix.ETXTBSY, "the kernel or initrd is still open for writing (a download still running?): " +
			"let the writer finish and close it; write to a temporary name and rename"},
		{"", unix.EFBIG, "the kernel or initrd is larger than 2 GiB, the most kexec_file_load reads"},
		{"", unix.EACCES, "a security policy (IMA appraisal, LoadPin, an LSM) refused to let the kernel read " +
			"the file: sign it or load it from where the policy allows"},
		{"", unix.ENOENT, "the file does not exist"},
		{"", unix.EIO, "reading the kernel or initrd failed: check the storage it lives on"},
	}...)
}
