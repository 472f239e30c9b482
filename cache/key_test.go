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
