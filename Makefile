# Conveniences over the scripts (the scripts are what CI and the README use).
PREFIX ?= /usr/local

.PHONY: build test install up
build:
	swift build -c release --product flotilla
test:
	scripts/test
install:
	scripts/install --prefix $(PREFIX)
up:
	scripts/up
