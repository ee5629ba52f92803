/* Runs a fuzz target over files, for `make check`: every seed and kept
 * crasher, once, under ASan and UBSan. Prints TAP.
 *
 *   fuzz_NAME FILE... */
#include <errno.h>

#include "fuzz.h"

int main(int argc, char **argv)
{
	int i;

	printf("1..%d\n", argc - 1);
	for (i = 1; i < argc; i++) {
		FILE *f = fopen(argv[i], "rb");
		uint8_t *data = NULL;
		long size;

		if (!f || fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0 ||
		    !(data = malloc((size_t)size + 1)) || fread(data, 1, (size_t)size, f) != (size_t)size) {
			printf("not ok %d - %s: %s\n", i, argv[i], strerror(errno));
			if (f)
				fclose(f);
			free(data);
			continue;
		}
		fclose(f);
		LLVMFuzzerTestOneInput(data, (size_t)size);
		free(data);
		printf("ok %d - %s\n", i, argv[i]);
		fflush(stdout);
	}
	return 0;
}
