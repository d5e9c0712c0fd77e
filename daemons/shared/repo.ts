/** Repository names as `owner/name`, checked once so no caller can be handed `..`, a leading `-` or a path. */
import { z } from 'zod';

export const REPO_PATTERN = /^[A-Za-z0-9][A-Za-z0-9-]{0,38}\/(?!\.\.?$)[A-Za-z0-9_.][A-Za-z0-9_.-]{0,99}$/;

export const repoSchema = z.string().regex(REPO_PATTERN, 'must be owner/name, e.g. acme/web (letters, digits, "-", "_", ".")');
