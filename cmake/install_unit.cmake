# SPDX-License-Identifier: Apache-2.0
# install_unit.cmake - run by `cmake --install`: writes vigild.service with the paths of this
# installation (CMAKE_INSTALL_PREFIX is the --prefix given to cmake --install, so the unit
# always names the binary it was installed with). UNIT_IN is the template.
set(prefix "${CMAKE_INSTALL_PREFIX}")
if(prefix STREQUAL "/usr")
    set(VIGIL_CONFDIR "/etc/vigil")
else()
    set(VIGIL_CONFDIR "${prefix}/etc/vigil")
endif()
set(VIGIL_BINDIR "${prefix}/bin")
set(VIGIL_DOCDIR "${prefix}/share/doc/vigil")
set(unit_dir "$ENV{DESTDIR}${prefix}/lib/systemd/system")
configure_file("${UNIT_IN}" "${unit_dir}/vigild.service" @ONLY)
message(STATUS "Installing: ${unit_dir}/vigild.service")
