// Package elfdeps finds the interpreter and the shared libraries an ELF
// program needs, by reading files as the kernel and glibc's dynamic loader
// do. It never runs the loader or ldd: the files may belong to another
// machine, and executing what one is only packaging is a hazard (u-root's
// pkg/ldd runs the loader; booster's generator reads .interp and
// DT_NEEDED, which is the approach taken here, with the search rules
// added).
//
// [Inspect] reads one file: class, machine, PT_INTERP and the dynamic
// section (DT_NEEDED, DT_SONAME, DT_RPATH, DT_RUNPATH, DT_FLAGS_1), through
// the program headers as the loader does, so stripped files read fine.
//
// A [Resolver] walks the dependencies in a file system: the host root
// (os.DirFS("/")) when an image is built, or a view of the image when it
// is checked, so that both follow the same rules. For each DT_NEEDED name
// of an object, in glibc's order (elf/dl-load.c _dl_map_object, ld.so(8)):
//
//  1. an object already loaded whose DT_NEEDED name, path or DT_SONAME
//     matches is used again (libc.so.6 needs ld-linux-x86-64.so.2, which
//     is the interpreter already loaded from /lib64);
//  2. a name with a '/' is a path;
//  3. DT_RPATH of the object, then of the object that loaded it, up to the
//     executable, unless the object has DT_RUNPATH (glibc then ignores its
//     DT_RPATH entirely);
//  4. DT_RUNPATH of the object itself only, not transitively;
//  5. with Resolver.LdSoConf, the directories of /etc/ld.so.conf and its
//     include globs, standing for ld.so.cache;
//  6. the default directories: /lib/TRIPLET and /usr/lib/TRIPLET for the
//     object's multiarch triplet, /lib64 and /usr/lib64 for 64-bit, /lib
//     and /usr/lib. Debian's loader searches the first two and the last
//     two, upstream glibc's 64-bit loader /lib64 and /usr/lib64: the union
//     serves trees of both. Steps 5 and 6 are skipped for an object
//     flagged DF_1_NODEFLIB.
//
// $ORIGIN is the directory of the path where the object was found, and
// for the executable the directory of its real path (glibc reads
// /proc/self/exe). $PLATFORM is AT_PLATFORM (x86_64, i686, aarch64); on a
// machine where it is not known the element is dropped, as glibc drops an
// element it cannot expand. $LIB is tried as lib/TRIPLET (Debian) then
// lib64 or lib (upstream). LD_LIBRARY_PATH, LD_PRELOAD and the
// glibc-hwcaps subdirectories, which depend on the environment and the
// CPU, are not modelled; relative search directories and DT_NEEDED paths
// are relative to "/", the working directory of a program started at boot.
//
// A candidate file of another ELF class, byte order or machine is skipped
// and the search goes on, as the loader does; a candidate that is not ELF
// at all is an error, as the loader stops with "invalid ELF header". A
// library that is not found is a [*MissingError] naming the object, the
// library and the directories searched; Resolve reports all of them (see
// [AllMissing]).
//
// # Where libraries go in an image
//
// An image has no ld.so.cache (nothing runs ldconfig in it), so a library
// that the host finds only through an ld.so.conf directory (/usr/local/lib,
// say) would not be found there. [Dep].Dest moves such a library to the
// default directory that holds the interpreter's real file, where glibc
// installs libc.so.6 and which its loader always searches
// (/usr/lib/x86_64-linux-gnu on Debian, /usr/lib64 on Fedora). Every other
// file keeps its path: RPATH, RUNPATH and the default directories are
// searched in the image as on the host. This assumes the program itself
// keeps its path too; a program moved elsewhere in the image keeps finding
// libraries through absolute RPATH/RUNPATH directories, but not through
// $ORIGIN ones, which move with it.
package elfdeps
