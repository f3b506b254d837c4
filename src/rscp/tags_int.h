/*
 * Internal view of the generated tag tables (rscp_tags_gen.c, produced by
 * tools/gen_rscp_tags.c from data/rscp_tags.csv and data/rscp_units.csv).
 * Only src/rscp/tags.c should read them; everything else goes through the
 * ew_rscp_tag_* functions in <energywire/rscp.h>.
 */
#ifndef EW_RSCP_TAGS_INT_H
#define EW_RSCP_TAGS_INT_H

#include <energywire/rscp.h>

/* All tags, sorted by id (ids are unique). */
extern const ew_rscp_tag_info ew_rscp_tags_[];

/*
 * Row numbers of ew_rscp_tags_ sorted by the upper-case name without "TAG_".
 * Two rows may share a name (rscp_tags.csv gives two names to two values
 * each); the row the CSV does not mark as doubtful comes first, so a lower-
 * bound search finds it.
 */
extern const uint16_t ew_rscp_tags_by_name_[];

/* Number of entries in both tables. */
extern const size_t ew_rscp_tags_count_;

#endif
