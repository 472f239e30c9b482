package cache

import "testing"

func TestKeyFraming(t *testing.T) {
	a := NewKey("run").String("cmd", "a-b").String("env", "c").Sum()
	b := NewKey("run").String("cmd", "a").String("env", "b-c").Sum()
	if a == b {
		t.Fatal("fields ran together")
	}
	l1 := NewKey("run").Strings("env", []string{"A=1", "B=2"}).Sum()
	l2 := NewKey("run").Strings("env", []string{"A=1B=2"}).Sum()
	l3 := NewKey("run").Strings("env", []string{"A=1", "B=2"}).Sum()
	if l1 == l2 || l1 != l3 {
		t.Fatal("lists are not framed, or keys are not stable")
	}
	if NewKey("run").String("x", "1").Sum() == NewKey("copy").String("x", "1").Sum() {
		t.Fatal("the kind is not part of the key")
	}
	if NewKey("run").Bytes("x", []byte("ab")).Sum() == NewKey("run").Bytes("x", []byte("a")).Bytes("", []byte("b")).Sum() {
		t.Fatal("byte fields ran together")
	}
}

// TestKeyBytes pins the bytes a key hashes: a change to how fields are
// framed would change every key, and must come with a new keyVersion.
func TestKeyBytes(t *testing.T) {
	k := NewKey("copy").String("cmd", "COPY a /b").Strings("env", []string{"A=1", ""}).Bytes("xattr:user.x", []byte{0, 1})
	k.Group("files")
	k.String("path", "a").String("content", "sha256:00")
	k.Group("")
	if got, want := k.Sum().String(), "sha256:f5c1d43e786e201af63c0f8b208a57f9593a19aded7ba6e3a4d267382f8b3d73"; got != want {
		t.Errorf("key = %s, want %s", got, want)
	}
	if got, want := k.Fields()["files"].String(), "sha256:37cce98a4f2487dee0bec3af47ec9d8e3ba7ded3730013bc565ab50a6628182d"; got != want {
		t.Errorf("files field = %s, want %s", got, want)
	}
}

// NewSum gives NewKey's key for the same fields, and no field digests.
func TestNewSumIsNewKeysSum(t *testing.T) {
	build := func(k *KeyBuilder) *KeyBuilder {
		k.String("mode", "100644").Group("g")
		k.Strings("list", []string{"a", "b"}).Group("")
		return k.Bytes("xattr:user.x", []byte{0, 1})
	}
	full, sum := build(NewKey("file")), build(NewSum("file"))
	if full.Sum() != sum.Sum() {
		t.Errorf("NewSum's key %s, NewKey's %s", sum.Sum(), full.Sum())
	}
	if len(sum.Fields()) != 0 || len(full.Fields()) != 3 {
		t.Errorf("fields: NewSum %v, NewKey %v", sum.Fields(), full.Fields())
	}
}
