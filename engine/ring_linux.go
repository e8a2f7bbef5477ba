package engine

// An io_uring submission ring, used by the event loop to hand the kernel a
// batch of socket reads or writes in one system call instead of one call
// each. Every operation is non-blocking (MSG_DONTWAIT): it completes
// during the call that submits it, with what a read or write would have
// returned, EAGAIN included, so the loop's logic is the same either way.

import (
	"errors"
	"fmt"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The kernel's interface (include/uapi/linux/io_uring.h).
const (
	sysIOUringSetup = 425
	sysIOUringEnter = 426

	ringOpSend = 26 // IORING_OP_SEND
	ringOpRecv = 27 // IORING_OP_RECV

	ringEnterGetEvents = 1 << 0

	ringFeatSingleMmap = 1 << 0

	ringSetupSubmitAll    = 1 << 7
	ringSetupCoopTaskrun  = 1 << 8
	ringSetupSingleIssuer = 1 << 12
	ringSetupDeferTaskrun = 1 << 13

	ringOffSQRing = 0
	ringOffSQEs   = 0x10000000
)

type ringSQOffsets struct {
	head, tail, ringMask, ringEntries, flags, dropped, array, resv1 uint32
	userAddr                                                        uint64
}

type ringCQOffsets struct {
	head, tail, ringMask, ringEntries, overflow, cqes, flags, resv1 uint32
	userAddr                                                        uint64
}

type ringParams struct {
	sqEntries, cqEntries, flags, sqThreadCPU, sqThreadIdle, features, wqFD uint32
	resv                                                                   [3]uint32
	sqOff                                                                  ringSQOffsets
	cqOff                                                                  ringCQOffsets
}

type ringSQE struct {
	opcode   uint8
	flags    uint8
	ioprio   uint16
	fd       int32
	off      uint64
	addr     uint64
	len      uint32
	msgFlags uint32
	userData uint64
	bufIndex uint16
	persona  uint16
	spliceFD int32
	addr3    uint64
	pad      uint64
}

type ringCQE struct {
	userData uint64
	res      int32
	flags    uint32
}

// ringOp is one read or write of a batch; res is what it returned: the
// bytes moved, or a negated errno.
type ringOp struct {
	send bool
	fd   int
	buf  []byte
	res  int32
}

// result is the op's result as a read or write returns it.
func (op *ringOp) result() (int, error) {
	if op.res < 0 {
		return 0, unix.Errno(-op.res)
	}
	return int(op.res), nil
}

// ringIO lets the event loops batch their reads and writes through
// io_uring where the kernel allows it (tests turn it off to check the
// one-call-at-a-time way).
var ringIO = true

// ringMin is the shortest batch that goes through the ring: a lone read
// or write costs less as a plain call (tests send every one through it).
var ringMin = 2

// ringEntries is a ring's size: a batch of events is at most as long.
// ringSlot is the buffer each batched read gets; an answer longer than
// that is read on one call at a time.
const (
	ringEntries = 256
	ringSlot    = 4 << 10
)

// ring is one thread's io_uring instance.
type ring struct {
	fd      int
	mem     []byte // the submission and completion rings, mapped as one
	sqeMem  []byte
	entries uint32

	sqTail, cqHead *uint32
	cqTail         *uint32
	sqMask, cqMask uint32
	sqArray        []uint32
	sqes           []ringSQE
	cqes           []ringCQE
}

// errRingOff says the loops were told not to use rings.
var errRingOff = errors.New("turned off")

// newRing sets up a ring of at least entries submissions. The ring serves
// the thread that creates it and no other; the caller keeps to it.
func newRing(entries uint32) (*ring, error) {
	var p ringParams
	var fd uintptr
	var e unix.Errno
	for _, flags := range []uint32{
		ringSetupSubmitAll | ringSetupCoopTaskrun | ringSetupSingleIssuer | ringSetupDeferTaskrun,
		0,
	} {
		p = ringParams{flags: flags}
		fd, _, e = unix.Syscall(sysIOUringSetup, uintptr(entries), uintptr(unsafe.Pointer(&p)), 0)
		if e != unix.EINVAL {
			break
		}
	}
	if e != 0 {
		return nil, fmt.Errorf("unavailable: %w", e)
	}
	r := &ring{fd: int(fd), entries: p.sqEntries}
	if p.features&ringFeatSingleMmap == 0 {
		r.close()
		return nil, errors.New("unavailable: kernel older than 5.4")
	}
	size := max(p.sqOff.array+p.sqEntries*4, p.cqOff.cqes+p.cqEntries*uint32(unsafe.Sizeof(ringCQE{})))
	mem, err := unix.Mmap(r.fd, ringOffSQRing, int(size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
	if err != nil {
		r.close()
		return nil, fmt.Errorf("unavailable: %w", err)
	}
	r.mem = mem
	sqeMem, err := unix.Mmap(r.fd, ringOffSQEs, int(p.sqEntries)*int(unsafe.Sizeof(ringSQE{})),
		unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
	if err != nil {
		r.close()
		return nil, fmt.Errorf("unavailable: %w", err)
	}
	r.sqeMem = sqeMem
	at := func(off uint32) unsafe.Pointer { return unsafe.Pointer(&mem[off]) }
	r.sqTail = (*uint32)(at(p.sqOff.tail))
	r.cqHead, r.cqTail = (*uint32)(at(p.cqOff.head)), (*uint32)(at(p.cqOff.tail))
	r.sqMask, r.cqMask = *(*uint32)(at(p.sqOff.ringMask)), *(*uint32)(at(p.cqOff.ringMask))
	r.sqArray = unsafe.Slice((*uint32)(at(p.sqOff.array)), p.sqEntries)
	r.sqes = unsafe.Slice((*ringSQE)(unsafe.Pointer(&sqeMem[0])), p.sqEntries)
	r.cqes = unsafe.Slice((*ringCQE)(at(p.cqOff.cqes)), p.cqEntries)
	if err := r.probe(); err != nil {
		r.close()
		return nil, err
	}
	return r, nil
}

// probeBuf is the probe's buffer, never freed: should the kernel hold
// the probe's read, nothing else lives where it would write.
var probeBuf [1]byte

// probe checks that the kernel completes a non-blocking read at once
// with EAGAIN when there is nothing to read, as the loop relies on,
// rather than holding it until data comes (as a kernel that ignored
// MSG_DONTWAIT would).
func (r *ring) probe() error {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("unavailable: %w", err)
	}
	defer unix.Close(fds[0])
	defer unix.Close(fds[1])
	op := []ringOp{{fd: fds[0], buf: probeBuf[:]}}
	r.queue(op)
	// Submitted without waiting for its completion, which a kernel that
	// held the read would never post.
	if _, _, e := unix.Syscall6(sysIOUringEnter, uintptr(r.fd), 1, 0, ringEnterGetEvents, 0, 0); e != 0 {
		return fmt.Errorf("unavailable: %w", e)
	}
	if r.reap(op) != 1 || op[0].res != -int32(unix.EAGAIN) {
		return errors.New("unavailable: the kernel holds non-blocking reads")
	}
	return nil
}

func (r *ring) close() {
	if r.sqeMem != nil {
		unix.Munmap(r.sqeMem)
	}
	if r.mem != nil {
		unix.Munmap(r.mem)
	}
	unix.Close(r.fd)
}

// queue puts ops on the submission ring, each with its index as its user
// data, for the next io_uring_enter to submit.
func (r *ring) queue(ops []ringOp) {
	tail := atomic.LoadUint32(r.sqTail)
	for i := range ops {
		op := &ops[i]
		idx := (tail + uint32(i)) & r.sqMask
		sqe := &r.sqes[idx]
		*sqe = ringSQE{opcode: ringOpRecv, fd: int32(op.fd), len: uint32(len(op.buf)),
			msgFlags: unix.MSG_DONTWAIT | unix.MSG_NOSIGNAL, userData: uint64(i)}
		if op.send {
			sqe.opcode = ringOpSend
		}
		if len(op.buf) > 0 {
			sqe.addr = uint64(uintptr(unsafe.Pointer(&op.buf[0])))
		}
		r.sqArray[idx] = idx
	}
	atomic.StoreUint32(r.sqTail, tail+uint32(len(ops)))
}

// do runs ops, at most r.entries of them, as one batch: it returns when
// every op has its result. The buffers must stay reachable until then,
// which they are, as the caller holds ops.
func (r *ring) do(ops []ringOp) error {
	r.queue(ops)
	submit, got := len(ops), 0
	for tries := 0; got < len(ops); tries++ {
		// Raw, as rawIO: nothing in the batch can block.
		n, _, e := unix.RawSyscall6(sysIOUringEnter, uintptr(r.fd), uintptr(submit), uintptr(len(ops)-got),
			ringEnterGetEvents, 0, 0)
		switch {
		case e == unix.EINTR || e == unix.EAGAIN || e == unix.EBUSY:
			if tries == ringTries {
				return e
			}
		case e != 0:
			return e
		default:
			submit -= int(n)
		}
		got += r.reap(ops)
	}
	return nil
}

// ringTries bounds the calls a batch may take: a kernel short of memory
// for it (EAGAIN) fails the batch rather than hold the loop.
const ringTries = 1000

// reap takes the completions posted so far into their ops' results.
func (r *ring) reap(ops []ringOp) int {
	head, tail := atomic.LoadUint32(r.cqHead), atomic.LoadUint32(r.cqTail)
	n := 0
	for ; head != tail; head++ {
		c := &r.cqes[head&r.cqMask]
		if c.userData < uint64(len(ops)) {
			ops[c.userData].res = c.res
			n++
		}
	}
	atomic.StoreUint32(r.cqHead, head)
	return n
}
