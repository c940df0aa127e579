/* Benchmark ceilings: bare libxml2 SAX and per-event DOM parses of an event stream, in events per second. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "event.h"
#include "export.h"

/*
 * Usage: bench_ceiling sax|dom FILE
 * sax: one streaming SAX2 parse of the whole <Events> file with handlers that only count <Event>
 *      elements: the fastest a libxml2-based reader could go, the ceiling for `bitsguard scan`.
 * dom: each event cut by the export reader and parsed into a tree with xmlReadMemory, then freed.
 * Prints "events seconds events_per_second".
 */

/* Processor time of this process: comparable across runs on a shared machine, unlike wall time. */
static double now_seconds(void)
{
    return (double)clock() / CLOCKS_PER_SEC;
}

static void sax_end(void *ctx, const xmlChar *local, const xmlChar *prefix, const xmlChar *uri)
{
    (void)prefix;
    (void)uri;
    if (strcmp((const char *)local, "Event") == 0)
        (*(uint64_t *)ctx)++;
}

static uint64_t sax_run(FILE *fp)
{
    static xmlSAXHandler sax;
    uint64_t events = 0;
    memset(&sax, 0, sizeof sax);
    sax.initialized = XML_SAX2_MAGIC;
    sax.endElementNs = sax_end;
    static char chunk[1 << 16];
    size_t n = fread(chunk, 1, sizeof chunk, fp);
    xmlParserCtxtPtr ctxt = xmlCreatePushParserCtxt(&sax, &events, chunk, (int)n, NULL);
    xmlCtxtUseOptions(ctxt, XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    while ((n = fread(chunk, 1, sizeof chunk, fp)) > 0)
        xmlParseChunk(ctxt, chunk, (int)n, 0);
    xmlParseChunk(ctxt, chunk, 0, 1);
    if (!ctxt->wellFormed)
        fputs("bench_ceiling: the stream is not well-formed\n", stderr);
    xmlFreeParserCtxt(ctxt);
    return events;
}

static uint64_t dom_run(FILE *fp)
{
    uint64_t events = 0;
    export_reader *rd = export_reader_open(fp, "bench");
    const char *xml;
    size_t len;
    bg_error err;
    while ((err = export_reader_next(rd, &xml, &len)) != BG_ERR_EOF) {
        if (err != BG_ERR_OK)
            continue;
        xmlDocPtr doc = xmlReadMemory(xml, (int)len, NULL, NULL, XML_PARSE_NONET | XML_PARSE_NOERROR);
        if (doc) {
            events++;
            xmlFreeDoc(doc);
        }
    }
    export_reader_close(rd);
    return events;
}

int main(int argc, char **argv)
{
    if (argc != 3 || (strcmp(argv[1], "sax") != 0 && strcmp(argv[1], "dom") != 0)) {
        fputs("usage: bench_ceiling sax|dom FILE\n", stderr);
        return 2;
    }
    FILE *fp = fopen(argv[2], "rb");
    if (!fp) {
        perror(argv[2]);
        return 3;
    }
    xmlInitParser();
    double t0 = now_seconds();
    uint64_t events = strcmp(argv[1], "sax") == 0 ? sax_run(fp) : dom_run(fp);
    double dt = now_seconds() - t0;
    fclose(fp);
    xmlCleanupParser();
    printf("%" PRIu64 " %.4f %.0f\n", events, dt, dt > 0 ? (double)events / dt : 0.0);
    return events ? 0 : 1;
}
