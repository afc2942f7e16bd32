# Install checks and distribution.
#
# `make installcheck` builds tests/downstream.c against the installed library
# the way a downstream engine would, through `pkg-config --cflags --libs
# mvquant` (shared, then static with --static), runs it, and checks the
# installed CLI and the library's versioned SONAME.  `make distcheck` runs it
# on its own staged install too (CI's distcheck builds the shared library
# only; the native stage checks both).
EXTRA_DIST += tests/downstream.c tests/run-all.sh tests/run-readme.sh .ci/install-deps

# distcheck proves the tarball builds and its tests run; the fixture-heavy
# tests (full-file perplexity, the gates) already ran once in `make check`.
AM_DISTCHECK_CONFIGURE_FLAGS = --with-fixtures=no

MVQ_DOWNSTREAM_DIR = tests/downstream-build
CLEANFILES += $(MVQ_DOWNSTREAM_DIR)/downstream $(MVQ_DOWNSTREAM_DIR)/downstream-static

installcheck-local:
	@echo "downstream program against the library installed in $(DESTDIR)$(prefix)"
	$(MKDIR_P) $(MVQ_DOWNSTREAM_DIR)
	pc() { PKG_CONFIG_PATH='$(DESTDIR)$(pkgconfigdir)' PKG_CONFIG_SYSROOT_DIR='$(DESTDIR)' \
	       $(PKG_CONFIG) "$$@" mvquant; }; \
	set -e; \
	if test -f '$(DESTDIR)$(libdir)/libmvquant.so'; then \
	  $(CC) -std=c11 -Wall -Wextra -Werror $(CFLAGS) -o $(MVQ_DOWNSTREAM_DIR)/downstream \
	    $(top_srcdir)/tests/downstream.c `pc --cflags` `pc --libs` -lm; \
	  LD_LIBRARY_PATH='$(DESTDIR)$(libdir)' $(EMULATOR) $(MVQ_DOWNSTREAM_DIR)/downstream; \
	  readelf -d '$(DESTDIR)$(libdir)/libmvquant.so' | grep -q 'SONAME.*libmvquant\.so\.[0-9]'; \
	  echo "ok - libmvquant.so has a versioned SONAME"; \
	else echo "skip - no shared library installed (--disable-shared)"; fi; \
	if test -f '$(DESTDIR)$(libdir)/libmvquant.a'; then \
	  $(CC) -std=c11 -Wall -Wextra -Werror $(CFLAGS) -o $(MVQ_DOWNSTREAM_DIR)/downstream-static \
	    $(top_srcdir)/tests/downstream.c `pc --cflags` '$(DESTDIR)$(libdir)/libmvquant.a' \
	    `pc --static --libs | sed "s/-lmvquant//"` -lm; \
	  $(EMULATOR) $(MVQ_DOWNSTREAM_DIR)/downstream-static; \
	else echo "skip - no static library installed (--disable-static)"; fi; \
	test -f '$(DESTDIR)$(libdir)/libmvquant.so' || test -f '$(DESTDIR)$(libdir)/libmvquant.a'; \
	LD_LIBRARY_PATH='$(DESTDIR)$(libdir)' $(EMULATOR) '$(DESTDIR)$(bindir)/mvquant' --version; \
	echo "ok - installed mvquant runs"; \
	if test -f tools/mvquant/mvquant.1; then \
	  test -f '$(DESTDIR)$(man1dir)/mvquant.1'; echo "ok - the manual page mvquant.1 is installed"; fi
