package i18n

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestCatalogCoversCode reads the packages that speak to people and checks that every
// key they pass to T (or to commands' r.t) is in the catalog, and that every key built from
// a prefix ("state_"+s) has at least one entry with that prefix.
func TestCatalogCoversCode(t *testing.T) {
	fset := token.NewFileSet()
	calls := 0
	for _, dir := range []string{"../commands", "../report", "../alert", "../graph"} {
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil || len(files) == 0 {
			t.Fatalf("no Go files in %s: %v", dir, err)
		}
		for _, name := range files {
			if strings.HasSuffix(name, "_test.go") {
				continue
			}
			f, err := parser.ParseFile(fset, name, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			ast.Inspect(f, func(n ast.Node) bool {
				c, ok := n.(*ast.CallExpr)
				if !ok {
					return true
				}
				sel, ok := c.Fun.(*ast.SelectorExpr)
				if !ok {
					return true
				}
				idx := -1
				switch {
				case sel.Sel.Name == "T" && isIdent(sel.X, "i18n"):
					idx = 1
				case sel.Sel.Name == "t":
					idx = 0
				}
				if idx < 0 || len(c.Args) <= idx {
					return true
				}
				calls++
				pos := fset.Position(c.Pos())
				switch a := c.Args[idx].(type) {
				case *ast.BasicLit:
					key, _ := strconv.Unquote(a.Value)
					if !Has(key) {
						t.Errorf("%s: key %q not in the catalog", pos, key)
					}
				case *ast.BinaryExpr:
					if lit, ok := a.X.(*ast.BasicLit); ok {
						prefix, _ := strconv.Unquote(lit.Value)
						if !hasPrefix(prefix) {
							t.Errorf("%s: no catalog key starts with %q", pos, prefix)
						}
					}
				}
				return true
			})
		}
	}
	if calls < 100 {
		t.Errorf("found only %d catalog calls: is the scan still looking at the right code?", calls)
	}
}

func isIdent(e ast.Expr, name string) bool {
	id, ok := e.(*ast.Ident)
	return ok && id.Name == name
}

func hasPrefix(p string) bool {
	for k := range catalogZH {
		if strings.HasPrefix(k, p) {
			return true
		}
	}
	return false
}
