package kmsg_test

import (
	"fmt"
	"log"
	"os"

	"github.com/slashinit/slashinit/kmsg"
)

// PID 1 logs to /dev/kmsg when it can, to the console otherwise. The
// Fallback writer on stdout shows the records: on /dev/kmsg each would
// start with its "<N>" priority.
func Example() {
	w, err := kmsg.Open("/nonexistent/kmsg", "init")
	if err != nil {
		w = kmsg.Fallback(os.Stdout, "init")
		w.Log(kmsg.Warning, "no kmsg: "+err.Error())
	}
	defer w.Close()

	w.Log(kmsg.Info, "mounted /proc\nmounted /sys")
	fmt.Fprintf(w, "<3>a child's error\n") // Write honours a leading <N>
	// Output:
	// init: no kmsg: open /nonexistent/kmsg: no such file or directory
	// init: mounted /proc
	// init: mounted /sys
	// init: a child's error
}

func ExampleWriter_Write() {
	// A Writer can back a log.Logger; every line is one record.
	l := log.New(kmsg.Fallback(os.Stdout, "svc"), "", 0)
	l.Printf("listening on %s", ":8080")
	// Output:
	// svc: listening on :8080
}

func ExampleParseRecord() {
	r, err := kmsg.ParseRecord([]byte("14,1234,5140900,-;init: mounted \\x2fproc \\xc3\\xa9\n"))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(r.Priority, r.Facility, r.Seq, r.Timestamp, r.Message)
	// Output:
	// info 1 1234 5.1409s init: mounted /proc é
}

func ExampleOpenReader() {
	// Find the records a test caused: open the log at its end first.
	r, err := kmsg.OpenReader("/dev/kmsg", true)
	if err != nil {
		fmt.Println("no kernel log:", err)
		return
	}
	defer r.Close()
	for {
		rec, err := r.Next()
		if err != nil { // io.EOF: no more records for now
			break
		}
		fmt.Println(rec.Priority, rec.Message)
	}
}
