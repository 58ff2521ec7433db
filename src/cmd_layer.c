#include "build_common.h"
#include "cli.h"

static const char help[] =
	"usage: stowage layer [STORE-PATH...] [options] -o layer.json\n"
	"\n"
	"Writes a layer JSON: reusable layers (buildLayer), such as the bash +\n"
	"coreutils base that every tool image shares byte-for-byte. Pass it to\n"
	"'stowage build --layer'. A layer JSON holds the layers of its own --layer\n"
	"inputs too, so chains stay linear and never repeat a layer.\n"
	"\n"
	"  STORE-PATH...  --graph FILE  --root PATH  --layer FILE\n"
	"  --max-layers N (layers in the JSON, lower ones included; default: the lower\n"
	"                 layers + 1, + 1 for --root)  --strategy size|popularity\n"
	"  --perm REGEX=MODE[:UID[:GID]]  --compression gzip|zstd|none\n"
	"  -o FILE  --store-dir DIR  --cache-dir DIR  --no-cache  --jobs N  --json\n"
	"\n"
	"See 'stowage build --help' for what each option does.\n";

int cmd_layer(int argc, char **argv)
{
	return build_main(argc, argv, 0, help);
}
