package elfdeps

import "debug/elf"

// efARMABIFloatHard is EF_ARM_ABI_FLOAT_HARD: an ARM object built for the
// hard-float ABI, which Debian ships as arm-linux-gnueabihf.
const efARMABIFloatHard = 0x400

// arch holds what the loader for one machine, class and byte order knows
// without reading any file.
type arch struct {
	triplet  string // Debian multiarch triplet, "" when unknown
	interp   string // glibc's standard PT_INTERP, "" when unknown
	platform string // AT_PLATFORM, the value of $PLATFORM; "" when unknown
}

func archOf(i *Info) arch {
	is64 := i.Class == elf.ELFCLASS64
	le := i.Data == elf.ELFDATA2LSB
	switch i.Machine {
	case elf.EM_X86_64:
		if is64 {
			return arch{"x86_64-linux-gnu", "/lib64/ld-linux-x86-64.so.2", "x86_64"}
		}
		return arch{"x86_64-linux-gnux32", "/libx32/ld-linux-x32.so.2", "x86_64"}
	case elf.EM_386:
		return arch{"i386-linux-gnu", "/lib/ld-linux.so.2", "i686"}
	case elf.EM_AARCH64:
		if le {
			return arch{"aarch64-linux-gnu", "/lib/ld-linux-aarch64.so.1", "aarch64"}
		}
		return arch{"aarch64_be-linux-gnu", "/lib/ld-linux-aarch64_be.so.1", "aarch64_be"}
	case elf.EM_ARM:
		if i.Flags&efARMABIFloatHard != 0 {
			return arch{"arm-linux-gnueabihf", "/lib/ld-linux-armhf.so.3", ""}
		}
		return arch{"arm-linux-gnueabi", "/lib/ld-linux.so.3", ""}
	case elf.EM_RISCV:
		if is64 {
			return arch{"riscv64-linux-gnu", "/lib/ld-linux-riscv64-lp64d.so.1", ""}
		}
	case elf.EM_PPC64:
		if le {
			return arch{"powerpc64le-linux-gnu", "/lib64/ld64.so.2", ""}
		}
		return arch{"powerpc64-linux-gnu", "/lib64/ld64.so.1", ""}
	case elf.EM_PPC:
		return arch{"powerpc-linux-gnu", "/lib/ld.so.1", ""}
	case elf.EM_S390:
		if is64 {
			return arch{"s390x-linux-gnu", "/lib/ld64.so.1", ""}
		}
	case elf.EM_LOONGARCH:
		if is64 {
			return arch{"loongarch64-linux-gnu", "/lib64/ld-linux-loongarch-lp64d.so.1", ""}
		}
	case elf.EM_MIPS:
		switch {
		case is64 && le:
			return arch{"mips64el-linux-gnuabi64", "/lib64/ld.so.1", ""}
		case is64:
			return arch{"mips64-linux-gnuabi64", "/lib64/ld.so.1", ""}
		case le:
			return arch{"mipsel-linux-gnu", "/lib/ld.so.1", ""}
		default:
			return arch{"mips-linux-gnu", "/lib/ld.so.1", ""}
		}
	}
	return arch{}
}

// defaultDirs is the loader's built-in search path for objects like i: the
// union of Debian's (/lib/TRIPLET, /usr/lib/TRIPLET, /lib, /usr/lib, as
// "ld.so --help" prints it) and upstream glibc's (/lib64, /usr/lib64 on a
// 64-bit machine), in that order, so that a tree from either family of
// distributions resolves.
func defaultDirs(i *Info) []string {
	var dirs []string
	if t := archOf(i).triplet; t != "" {
		dirs = append(dirs, "/lib/"+t, "/usr/lib/"+t)
	}
	if i.Class == elf.ELFCLASS64 {
		dirs = append(dirs, "/lib64", "/usr/lib64")
	}
	return append(dirs, "/lib", "/usr/lib")
}

// libValues are the expansions of $LIB tried in order: Debian builds glibc
// with $LIB = lib/TRIPLET, upstream with lib64 (64-bit) or lib.
func libValues(i *Info) []string {
	var v []string
	if t := archOf(i).triplet; t != "" {
		v = append(v, "lib/"+t)
	}
	if i.Class == elf.ELFCLASS64 {
		return append(v, "lib64")
	}
	return append(v, "lib")
}
