package artifacts_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/demystify-resnet/repro/artifacts"
)

// The engine's protocol for one stage: describe the work as a Key, look it
// up, and on a miss compute under the action's lock and record the result.
func Example() {
	dir, _ := os.MkdirTemp("", "store")
	defer os.RemoveAll(dir)
	s, err := artifacts.Open(dir)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Close()

	k := artifacts.NewKey("demystify-resnet")
	k.Add("key-schema", strconv.Itoa(artifacts.KeySchemaVersion))
	k.Add("stage", "greet")
	k.AddQuoted("param.text", "hello")
	fmt.Print(k.Text())
	aid := k.Sum()

	unlock, err := s.Lock(context.Background(), aid)
	if err != nil {
		fmt.Println(err)
		return
	}
	if _, hit, _ := s.GetAction(aid); !hit {
		stage, _ := s.Staging("greet")
		out := filepath.Join(stage, "greeting.txt")
		os.WriteFile(out, []byte("hello\n"), 0o644)
		oid, n, err := s.Put(out)
		if err != nil {
			fmt.Println(err)
			return
		}
		os.RemoveAll(stage)
		s.PutAction(aid, artifacts.Action{
			Outputs: map[string]artifacts.OutputID{"greeting": oid},
			Sizes:   map[string]int64{"greeting": n},
			Stage:   "greet",
		})
	}
	unlock()

	a, hit, _ := s.GetAction(aid)
	b, _ := os.ReadFile(s.Path(a.Outputs["greeting"]))
	fmt.Printf("hit=%v greeting=%s object=%s\n", hit, b[:5], a.Outputs["greeting"].Short())
	// Output:
	// salt demystify-resnet
	// key-schema 1
	// stage greet
	// param.text "hello"
	// hit=true greeting=hello object=5891b5b522d5
}
