package kexec

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"
)

// TestNoTestReachesRealSyscalls reads this package's tests and fails if one
// names what would reach the real system calls: the package-level Load,
// Execute, Unload, realSyscalls or the raw calls themselves. Tests use
// loaderOn(fake) instead. The runtime guard (guarded) is the second line.
func TestNoTestReachesRealSyscalls(t *testing.T) {
	forbidden := map[string]bool{"Load": true, "Execute": true, "Unload": true, "realSyscalls": true,
		"fileLoad": true, "fileUnload": true, "Reboot": true, "KexecFileLoad": true, "KexecLoad": true, "FileLoad": true}
	files, err := filepath.Glob("*_test.go")
	if err != nil || len(files) == 0 {
		t.Fatalf("no test files: %v", err)
	}
	fset := token.NewFileSet()
	for _, name := range files {
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			var id *ast.Ident
			switch n := n.(type) {
			case *ast.SelectorExpr:
				id = n.Sel
			case *ast.Ident:
				id = n
			}
			if id != nil && forbidden[id.Name] {
				t.Errorf("%s: %s would reach the real system calls; use loaderOn(fake)", fset.Position(id.Pos()), id.Name)
			}
			return true
		})
	}
}

// TestRealSyscallsAreGuarded: on every OS, realSyscalls hands out the real
// calls only through guarded.
func TestRealSyscallsAreGuarded(t *testing.T) {
	for _, name := range []string{"sys_linux.go", "sys_other.go"} {
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, d := range f.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || fn.Name.Name != "realSyscalls" {
				continue
			}
			found = true
			body := fn.Body.List
			ret, ok := body[len(body)-1].(*ast.ReturnStmt)
			if len(body) != 1 || !ok || len(ret.Results) != 1 {
				t.Errorf("%s: realSyscalls must be a single return guarded(...)", name)
				continue
			}
			call, ok := ret.Results[0].(*ast.CallExpr)
			if fun, _ := call.Fun.(*ast.Ident); !ok || fun == nil || fun.Name != "guarded" {
				t.Errorf("%s: realSyscalls returns %T, not guarded(...)", name, ret.Results[0])
			}
		}
		if !found {
			t.Errorf("%s: no realSyscalls", name)
		}
	}
	// And the package-level functions use nothing but realSyscalls.
	src, err := parser.ParseFile(token.NewFileSet(), "kexec.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range src.Decls {
		fn, ok := d.(*ast.FuncDecl)
		if !ok || fn.Recv != nil || !strings.Contains("Load Execute Unload", fn.Name.Name) {
			continue
		}
		var uses []string
		ast.Inspect(fn.Body, func(n ast.Node) bool {
			if c, ok := n.(*ast.CompositeLit); ok {
				for _, e := range c.Elts {
					if call, ok := e.(*ast.CallExpr); ok {
						if id, ok := call.Fun.(*ast.Ident); ok {
							uses = append(uses, id.Name)
						}
					}
				}
			}
			return true
		})
		if len(uses) != 1 || uses[0] != "realSyscalls" {
			t.Errorf("%s builds its loader from %v, want realSyscalls()", fn.Name.Name, uses)
		}
	}
}
