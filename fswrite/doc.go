// Package fswrite writes files into layer directories: the metadata of every entry, the files of COPY, ADD and WORKDIR with copy-up over the layers below (reading COPY --from's stage trees), and the tar extraction that ADD and image layers share.
package fswrite
