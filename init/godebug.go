// Settings of the Go runtime that PID 1 is built with.
//
// disablethp: on kernels whose transparent huge pages are "always" (Debian's
// default), the first touch of the heap takes a whole 2 MiB huge page, for
// the life of the server: `make bench` measured PID 1's anonymous memory
// under QEMU at 2,280 kB with it and 672 kB with GODEBUG=disablethp=1.

//go:debug disablethp=1

package main
