#!/usr/bin/env bash
# Install what the tests drive from outside Python (Debian packages), or say plainly what will be skipped.
set -u
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v age >/dev/null 2>&1 || need+=(age)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v espeak-ng >/dev/null 2>&1 || need+=(espeak-ng)  # the voice channel of expert calls
command -v go >/dev/null 2>&1 || need+=(golang-go)  # Go's sumdb/note checks our signed checkpoints
GO_NOTE=/usr/share/gocode/src/golang.org/x/mod/sumdb/note
[ -d "$GO_NOTE" ] || need+=(golang-golang-x-mod-dev)
command -v pdfsig >/dev/null 2>&1 || need+=(poppler-utils)  # checks the PAdES signatures of reports (R-R2)
CJK_FONT=/usr/share/fonts/truetype/wqy/wqy-microhei.ttc  # embedded in evaluation reports
[ -e "$CJK_FONT" ] || need+=(fonts-wqy-microhei)
if [ ${#need[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "test-deps: installing ${need[*]} from Debian"
  (apt-get install -y -q "${need[@]}" >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q "${need[@]}" >/dev/null; }) \
    || echo "test-deps: could not install ${need[*]}"
fi
[ -e "$CJK_FONT" ] || echo "test-deps: fonts-wqy-microhei missing: the evaluation report PDF tests will be SKIPPED"
[ -d "$GO_NOTE" ] && command -v go >/dev/null 2>&1 || echo "test-deps: Go or golang-golang-x-mod-dev missing: the sumdb/note interoperability test will be SKIPPED"
for tool in chromium age openssl espeak-ng pdfsig; do
  command -v "$tool" >/dev/null 2>&1 || case $tool in
    chromium) echo "test-deps: chromium missing: the browser tests (tests/e2e) will be SKIPPED";;
    age) echo "test-deps: age missing: the age interoperability tests will be SKIPPED";;
    openssl) echo "test-deps: openssl missing: the openssl interoperability tests will be SKIPPED";;
    espeak-ng) echo "test-deps: espeak-ng missing: the voice channel test will be SKIPPED";;
    pdfsig) echo "test-deps: pdfsig (poppler-utils) missing: the signed-PDF checks with pdfsig will be SKIPPED";;
  esac
done
exit 0
