/** Names that cross process boundaries, each checked by one schema: specialties, keywords and repositories. */
import { z } from 'zod';

export const SPECIALTY_PATTERN = /^[a-z][a-z0-9-]{0,31}$/;
export const specialtySchema = z.string().regex(SPECIALTY_PATTERN, 'expected a lowercase specialty such as "backend" (a letter, then letters, digits or "-", at most 32)');

/** A keyword is one word as the classifier splits text: lowercase letters, digits and + # . - inside. */
export const KEYWORD_PATTERN = /^[a-z0-9](?:[a-z0-9+#.-]*[a-z0-9+#])?$/;
export const keywordSchema = z.string().regex(KEYWORD_PATTERN, 'expected one lowercase word such as "django" or "c++" (no spaces)');

/** `owner/name`, so no caller can be handed `..`, a leading `-` or a path. */
export const REPO_PATTERN = /^[A-Za-z0-9][A-Za-z0-9-]{0,38}\/(?!\.\.?$)[A-Za-z0-9_.][A-Za-z0-9_.-]{0,99}$/;
export const repoSchema = z.string().regex(REPO_PATTERN, 'must be owner/name, e.g. acme/web (letters, digits, "-", "_", ".")');
