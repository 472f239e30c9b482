package image

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"

	"github.com/mybuild/mybuild/internal/ctxio"
	digest "github.com/opencontainers/go-digest"
)

// copyPiece is how much of a blob copyBlob copies between two looks at
// its context.
const copyPiece = 16 << 20

// copyBlob copies the blob d from the store into the archive that tw
// writes to w. A blob the store checks as it is read goes through tw, to
// its end, so that the check is made. One the store vouches for (handed
// over as the file itself: checked whole since it last changed) is
// copied from file to file, with copy_file_range where the archive is a
// file too: its bytes never pass through the builder.
func copyBlob(ctx context.Context, w io.Writer, tw *tar.Writer, d digest.Digest, size int64, store Store, progress *written) error {
	r, err := openBlob(ctx, store, d, size)
	if err != nil {
		return err
	}
	defer r.Close()
	hdr := archiveHeader(blobName(d), tar.TypeReg, size)
	f, ok := r.(*os.File)
	if !ok {
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if _, err := io.Copy(tw, ctxio.Reader(ctx, r)); err != nil {
			return fmt.Errorf("blob %s: %w", d, err)
		}
		progress.add(size)
		return nil
	}
	// The entry before ends (its padding), then this one is written by
	// hand: a header as tw writes it, the bytes, the padding.
	if err := tw.Flush(); err != nil {
		return err
	}
	var hb bytes.Buffer
	if err := tar.NewWriter(&hb).WriteHeader(hdr); err != nil {
		return err
	}
	if _, err := w.Write(hb.Bytes()); err != nil {
		return err
	}
	if fl, ok := w.(interface{ Flush() error }); ok {
		if err := fl.Flush(); err != nil {
			return err
		}
	}
	for done := int64(0); done < size; {
		if err := ctx.Err(); err != nil {
			return err
		}
		n, err := io.Copy(w, io.LimitReader(f, min(size-done, copyPiece)))
		if err != nil {
			return fmt.Errorf("blob %s: %w", d, err)
		}
		if n == 0 {
			return fmt.Errorf("blob %s: %w", d, io.ErrUnexpectedEOF)
		}
		done += n
		progress.add(n)
	}
	_, err = w.Write(make([]byte, (blockSize-size%blockSize)%blockSize))
	return err
}

// blockSize is a tar block.
const blockSize = 512
