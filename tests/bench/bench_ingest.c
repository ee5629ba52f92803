/* Township ingest under load: many villages push at once.
 *
 *   bench_ingest URL NODE_ID:DATA_DIR:BUNDLE ...
 *
 * Each village's bundle holds the exact request bodies its sync would send
 * (deflated, as on the wire). Each is signed with the village key before
 * the clock starts, hashing and signing being the village's work on its
 * own machine; then one thread per village posts them in order. The
 * township does all of its real work while the load costs the shared
 * cores little: what is measured is the township. Prints events/s over the
 * wall time of the whole load. */
#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "records.h"

#define MAGIC "XFBUNDLE1\n"

typedef struct village {
	char node[XF_NODE_ID_MAX + 1];
	const char *url;
	xf_key *key;
	xf_buf *frames;
	struct curl_slist **headers; /* per frame, its Authorization among them */
	size_t n_frames;
	size_t bytes_sent;
	int failed;
} village;

static size_t discard(char *data, size_t size, size_t n, void *userdata)
{
	(void)data, (void)userdata;
	return size * n;
}

static void die(const char *what, const char *why)
{
	fprintf(stderr, "bench_ingest: %s: %s\n", what, why);
	exit(1);
}

static void load_bundle(village *v, const char *path)
{
	FILE *f = fopen(path, "r");
	char magic[sizeof(MAGIC) - 1];
	uint8_t len[4];
	size_t cap = 0;

	if (!f || fread(magic, 1, sizeof(magic), f) != sizeof(magic) || memcmp(magic, MAGIC, sizeof(magic)))
		die(path, "not a bundle");
	while (fread(len, 1, 4, f) == 4) {
		size_t n = (size_t)len[0] << 24 | (size_t)len[1] << 16 | (size_t)len[2] << 8 | len[3];

		if (v->n_frames == cap) {
			cap = cap ? cap * 2 : 16;
			v->frames = realloc(v->frames, cap * sizeof(*v->frames));
		}
		v->frames[v->n_frames].data = malloc(n);
		v->frames[v->n_frames].len = n;
		if (fread(v->frames[v->n_frames++].data, 1, n, f) != n)
			die(path, "truncated");
	}
	fclose(f);
}

static void sign_all(village *v)
{
	char auth[XF_AUTH_HEADER_MAX], header[XF_AUTH_HEADER_MAX + 32];
	size_t i;

	v->headers = calloc(v->n_frames ? v->n_frames : 1, sizeof(*v->headers));
	if (!v->headers)
		die(v->node, "out of memory");
	for (i = 0; i < v->n_frames; i++) {
		struct curl_slist *h = NULL;

		if (xf_auth_make(v->key, v->node, "POST", XF_SYNC_PATH, xf_wall_ms(), v->frames[i].data,
				 v->frames[i].len, auth) < 0)
			die(v->node, "cannot sign a request");
		snprintf(header, sizeof(header), "Authorization: %s", auth);
		h = curl_slist_append(h, header);
		h = curl_slist_append(h, "Content-Type: " XF_SYNC_CONTENT_TYPE);
		h = curl_slist_append(h, "Content-Encoding: deflate");
		v->headers[i] = curl_slist_append(h, "Expect:");
	}
}

static void *push_all(void *arg)
{
	village *v = arg;
	CURL *curl = curl_easy_init();
	char url[1024];
	size_t i;

	snprintf(url, sizeof(url), "%s%s", v->url, XF_SYNC_PATH);
	for (i = 0; i < v->n_frames && !v->failed; i++) {
		long status = 0;

		curl_easy_setopt(curl, CURLOPT_URL, url);
		curl_easy_setopt(curl, CURLOPT_HTTPHEADER, v->headers[i]);
		curl_easy_setopt(curl, CURLOPT_POSTFIELDS, v->frames[i].data);
		curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)v->frames[i].len);
		curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);
		if (curl_easy_perform(curl) != CURLE_OK ||
		    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK || status != 200)
			v->failed = (int)status ? (int)status : -1;
		v->bytes_sent += v->frames[i].len;
	}
	curl_easy_cleanup(curl);
	return NULL;
}

int main(int argc, char **argv)
{
	size_t n = (size_t)argc - 2, i, requests = 0, bytes = 0;
	village *vs;
	pthread_t *threads;
	struct timespec t0, t1;
	double secs;

	if (argc < 3) {
		fprintf(stderr, "usage: bench_ingest URL NODE_ID:DATA_DIR:BUNDLE ...\n");
		return 2;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	vs = calloc(n, sizeof(*vs));
	threads = calloc(n, sizeof(*threads));
	for (i = 0; i < n; i++) {
		char *spec = argv[i + 2], *dir = strchr(spec, ':'), *bundle = dir ? strchr(dir + 1, ':') : NULL;
		char path[1024];

		if (!bundle)
			die(spec, "expected NODE_ID:DATA_DIR:BUNDLE");
		*dir++ = '\0';
		*bundle++ = '\0';
		snprintf(vs[i].node, sizeof(vs[i].node), "%s", spec);
		snprintf(path, sizeof(path), "%s/%s", dir, XF_KEY_FILE);
		if (xf_key_load(&vs[i].key, path) < 0)
			die(path, "cannot load the key");
		vs[i].url = argv[1];
		load_bundle(&vs[i], bundle);
		sign_all(&vs[i]);
		requests += vs[i].n_frames;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < n; i++)
		pthread_create(&threads[i], NULL, push_all, &vs[i]);
	for (i = 0; i < n; i++) {
		pthread_join(threads[i], NULL);
		if (vs[i].failed)
			fprintf(stderr, "bench_ingest: %s: a push failed (HTTP %d)\n", vs[i].node, vs[i].failed);
		bytes += vs[i].bytes_sent;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("%zu villages pushed %zu requests (%zu body bytes) in %.3f s\n", n, requests, bytes, secs);
	for (i = 0; i < n; i++)
		if (vs[i].failed)
			return 1;
	return 0;
}
