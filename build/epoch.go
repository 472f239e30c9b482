package build

import (
	"fmt"
	"strconv"
	"time"
)

// sourceDateEpochArg is the build arg that makes a build reproducible, as
// in BuildKit.
const sourceDateEpochArg = "SOURCE_DATE_EPOCH"

// ParseSourceDateEpoch parses a SOURCE_DATE_EPOCH value: whole seconds
// since 1970-01-01 UTC.
func ParseSourceDateEpoch(s string) (time.Time, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > 253402300799 { // up to 9999-12-31
		return time.Time{}, fmt.Errorf("invalid SOURCE_DATE_EPOCH %q: want whole seconds since 1970", s)
	}
	return time.Unix(n, 0).UTC(), nil
}

// sourceDateEpoch is the epoch the build is made reproducible for: the
// option, else the SOURCE_DATE_EPOCH build arg, else the default of a
// global ARG SOURCE_DATE_EPOCH, as BuildKit reads it. nil: none.
func sourceDateEpoch(opt *time.Time, a *args) (*time.Time, error) {
	v, ok := a.values[sourceDateEpochArg]
	if ok {
		a.used[sourceDateEpochArg] = true // it needs no ARG
	} else {
		v, ok = a.lookupGlobal(sourceDateEpochArg)
	}
	if opt != nil {
		t := opt.UTC().Truncate(time.Second)
		return &t, nil
	}
	if !ok || v == "" {
		return nil, nil
	}
	t, err := ParseSourceDateEpoch(v)
	if err != nil {
		return nil, err
	}
	return &t, nil
}
