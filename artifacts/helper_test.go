package artifacts

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The cross-process tests re-execute the test binary with ARTIFACTS_HELPER
// set; TestMain then runs one of the helper modes below instead of the tests.
func TestMain(m *testing.M) {
	if mode := os.Getenv("ARTIFACTS_HELPER"); mode != "" {
		if err := helperMain(mode, os.Getenv("ARTIFACTS_DIR"), os.Getenv("ARTIFACTS_ARG")); err != nil {
			fmt.Fprintln(os.Stderr, "helper:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// helperCmd returns a command running helper mode in a child process.
func helperCmd(t *testing.T, mode, dir, arg string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "ARTIFACTS_HELPER="+mode, "ARTIFACTS_DIR="+dir, "ARTIFACTS_ARG="+arg)
	cmd.Stderr = os.Stderr
	return cmd
}

// sharedContent is published by every "put" helper; uniqueContent(i) only by helper i.
func sharedContent() []byte { return []byte(strings.Repeat("shared bytes\n", 5000)) }
func uniqueContent(tag string, i int) []byte {
	return []byte(strings.Repeat(fmt.Sprintf("unique %s %d\n", tag, i), 3000))
}

// counterAction is the ActionID every "count" helper locks.
func counterAction() ActionID {
	k := NewKey("test")
	k.Add("what", "counter")
	return k.Sum()
}

func helperMain(mode, dir, arg string) error {
	s, err := Open(dir)
	if err != nil {
		return err
	}
	switch mode {
	case "put": // arg = tag; publish shared + unique objects, print their IDs
		stage, err := s.Staging("put")
		if err != nil {
			return err
		}
		for i := 0; i < 20; i++ {
			for _, c := range [][]byte{sharedContent(), uniqueContent(arg, i)} {
				p := filepath.Join(stage, "f")
				if err := os.WriteFile(p, c, 0o644); err != nil {
					return err
				}
				id, _, err := s.Put(p)
				if err != nil {
					return err
				}
				fmt.Println(id)
			}
		}
		return s.Close()
	case "count": // arg = iterations; increment a counter file under Lock
		n, _ := strconv.Atoi(arg)
		counter := filepath.Join(dir, "counter")
		for i := 0; i < n; i++ {
			unlock, err := s.Lock(context.Background(), counterAction())
			if err != nil {
				return err
			}
			b, _ := os.ReadFile(counter)
			v, _ := strconv.Atoi(strings.TrimSpace(string(b)))
			time.Sleep(200 * time.Microsecond) // widen the read-modify-write window
			if err := os.WriteFile(counter, []byte(strconv.Itoa(v+1)), 0o644); err != nil {
				return err
			}
			if err := unlock(); err != nil {
				return err
			}
		}
		return s.Close()
	case "leave": // create a staging dir with a file, then exit without Close
		stage, err := s.Staging("left")
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(stage, "partial"), []byte("partial"), 0o644); err != nil {
			return err
		}
		fmt.Println(stage)
		return nil
	case "crash": // publish objects and actions forever; the parent SIGKILLs us
		w := bufio.NewWriter(os.Stdout)
		for i := 0; ; i++ {
			stage, err := s.Staging("crash")
			if err != nil {
				return err
			}
			p := filepath.Join(stage, "out")
			if err := os.WriteFile(p, uniqueContent("crash", i), 0o644); err != nil {
				return err
			}
			id, n, err := s.Put(p)
			if err != nil {
				return err
			}
			k := NewKey("crash")
			k.Add("i", strconv.Itoa(i))
			if err := s.PutAction(k.Sum(), Action{Outputs: map[string]OutputID{"out": id}, Sizes: map[string]int64{"out": n}}); err != nil {
				return err
			}
			if err := s.PutRun("run-"+strconv.Itoa(i), []byte("{}")); err != nil {
				return err
			}
			// Leave the staging dir behind on purpose: Open must clean it.
			fmt.Fprintln(w, i)
			w.Flush()
		}
	}
	return fmt.Errorf("unknown helper mode %q", mode)
}

type execCmd = exec.Cmd
