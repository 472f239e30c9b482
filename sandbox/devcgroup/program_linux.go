package devcgroup

import (
	"fmt"
	"strings"

	"github.com/cilium/ebpf/asm"
	"golang.org/x/sys/unix"
)

// program is the cgroup v2 device program for rules: it returns 1 (allow)
// when a rule covers the access, else 0. The kernel passes it
// struct bpf_cgroup_dev_ctx { u32 access_type; u32 major; u32 minor; },
// where access_type is the access bits << 16 | the device type.
//
//	r2 = type; r3 = access; r4 = major; r5 = minor
//	for each rule: if type, major or minor differ, or the access asks for
//	a bit the rule lacks, go to the next rule; else return 1
//	return 0
func program(rules []Rule) asm.Instructions {
	insts := asm.Instructions{
		asm.LoadMem(asm.R2, asm.R1, 0, asm.Word),
		asm.Mov.Reg32(asm.R3, asm.R2),
		asm.RSh.Imm32(asm.R3, 16),
		asm.And.Imm32(asm.R2, 0xffff),
		asm.LoadMem(asm.R4, asm.R1, 4, asm.Word),
		asm.LoadMem(asm.R5, asm.R1, 8, asm.Word),
	}
	label := func(i int) string { return fmt.Sprintf("rule%d", i) }
	for i, r := range rules {
		next := label(i + 1)
		block := asm.Instructions{
			asm.Mov.Reg32(asm.R6, asm.R3).WithSymbol(label(i)),
			asm.And.Imm32(asm.R6, ^accessBits(r.Access)),
			asm.JNE.Imm(asm.R6, 0, next),
			asm.JNE.Imm(asm.R2, deviceType(r.Type), next),
		}
		if r.Major != Any {
			block = append(block, asm.JNE.Imm(asm.R4, int32(r.Major), next))
		}
		if r.Minor != Any {
			block = append(block, asm.JNE.Imm(asm.R5, int32(r.Minor), next))
		}
		insts = append(insts, append(block, asm.Mov.Imm(asm.R0, 1), asm.Return())...)
	}
	return append(insts, asm.Mov.Imm(asm.R0, 0).WithSymbol(label(len(rules))), asm.Return())
}

func accessBits(access string) int32 {
	var bits int32
	if strings.Contains(access, "m") {
		bits |= unix.BPF_DEVCG_ACC_MKNOD
	}
	if strings.Contains(access, "r") {
		bits |= unix.BPF_DEVCG_ACC_READ
	}
	if strings.Contains(access, "w") {
		bits |= unix.BPF_DEVCG_ACC_WRITE
	}
	return bits
}

func deviceType(t byte) int32 {
	if t == 'b' {
		return unix.BPF_DEVCG_DEV_BLOCK
	}
	return unix.BPF_DEVCG_DEV_CHAR
}
