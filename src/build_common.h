/* `stowage build` and `stowage layer` share their closure, layering and
 * output options; build adds the image config. */
#ifndef STW_BUILD_COMMON_H
#define STW_BUILD_COMMON_H

/* image: 1 for build (config options, image JSON), 0 for layer. */
int build_main(int argc, char **argv, int image, const char *help);

#endif
